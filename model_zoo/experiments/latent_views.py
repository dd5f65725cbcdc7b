"""The app's latent-vs-pixel measures for models that are not shipped: speckle ratio (any family) and, for
JEPAs, latent-prediction cosine (against the targets each was trained on, centred ones included), with
explain.latent_pixel.report's settings (8 test hearts x 4 speckle draws; 8 one-beat test clips, masks
against the first MAE given, or mae-small's when none is). Each model's untrained draw ("NAME untrained",
seed 0, the evaluation's random baseline) is measured beside it, so what training did to the speckle
ratio can be read off.

    python -m model_zoo.experiments.latent_views --models top3=runs/jepa_jitter_top3/model,... --out FILE.json
"""
from __future__ import annotations

import json

import torch

import model_zoo
from explain.latent_pixel.report import pretext
from explain.latent_pixel.speckle import speckle_test
from model_zoo.experiments.named_folders import parse_named_folders
from model_zoo.features import random_encoder, split_seeds


def main(argv: list[str] | None = None) -> None:
    folders, out_file, threads = parse_named_folders(__doc__, argv)
    torch.set_num_threads(threads)
    models = {name: model_zoo.load(folder, device="cpu") for name, folder in folders.items()}
    maes = [w for w in models.values() if w.family == "mae"]
    mae = maes[0] if maes else model_zoo.load("mae-small", device="cpu")
    draws = {f"{name} untrained": random_encoder(w, 0) for name, w in models.items()}
    out = {"speckle": speckle_test(models | draws, split_seeds("test", 8), 4)}
    for name, wrapper in models.items():
        if wrapper.family != "jepa":
            continue
        r = pretext(wrapper, mae, 8)
        out[name] = {k: r[k] for k in ("jepa_prediction", "jepa_prediction_on_mae_masks")}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
