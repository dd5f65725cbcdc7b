"""The app's latent-vs-pixel measures for JEPAs that are not shipped: speckle ratio and latent-prediction
cosine (against the targets each was trained on, centred ones included), with explain.latent_pixel.report's
settings (8 test hearts x 4 speckle draws; 8 one-beat test clips, masks against mae-small's).

    python -m model_zoo.experiments.latent_views --models top3=runs/jepa_jitter_top3/model,... --out FILE.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import model_zoo
from explain.latent_pixel.report import pretext
from explain.latent_pixel.speckle import speckle_test
from model_zoo.features import split_seeds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated NAME=FOLDER of JEPA model folders")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    mae = model_zoo.load("mae-small", device="cpu")
    models = {name: model_zoo.load(folder, device="cpu")
              for name, folder in (pair.split("=", 1) for pair in args.models.split(","))}
    out = {"speckle": speckle_test(models, split_seeds("test", 8), 4)}
    for name, wrapper in models.items():
        r = pretext(wrapper, mae, 8)
        out[name] = {k: r[k] for k in ("jepa_prediction", "jepa_prediction_on_mae_masks")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
