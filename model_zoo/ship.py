"""Ship a trained model: copy a run's model folder into model_zoo/checkpoints/<name> with its design notes.

    python -m model_zoo.ship runs/jepa_small/model [--name jepa-small]

A centred JEPA's folder gains target_mean.safetensors if training did not write it (model_zoo.target_mean).
The card keeps everything training wrote (recipe, data, steps, wall time, loss curve, commit,
collapse check) and gains `design`: why the recipe's size and settings were chosen. Results are
added later by `python -m model_zoo.evaluate --ship`.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from model_zoo.checkpoint import CARD, TARGET_MEAN, read_card
from model_zoo.recipes import recipe_from_card
from model_zoo.registry import SHIPPED
from model_zoo.target_mean import fit_target_mean

MAX_SHIPPED_MB = 25.0
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")       # a folder name under SHIPPED: no path, nothing outside it
DESIGN = {
    "small": (
        "One ViT encoder for both methods: 16 frames x 112 px, patch 16, tubelet 2 (8x7x7 = 392 "
        "tokens), width 192, 6 layers, 3 heads; the JEPA predictor and the MAE decoder are the "
        "same shape (4 layers x 96 wide, VideoMAE's half-width decoder), so neither method gets a "
        "bigger head. Width 192 / 6 layers is the largest ViT for which both runs (batch 16, 1500 "
        "steps, 24k clips seen) fit the 60-minute budget each when trained side by side, one core "
        "each, on this 2-core CPU (measured at one thread, one run at a time: 1.9 s/step JEPA, 1.0 s/step MAE; "
        "a card's wall time is longer: its run shared the CPU and first rendered its pool of clips). The MAE's peak "
        "learning rate follows VideoMAE's rule in form (base x batch / 256) with base 6e-3 instead "
        "of 1.5e-4: the literal rule gives 9.4e-6 at batch 16, which barely trains in 1500 steps "
        "(a strawman); 3.75e-4 is also the JEPA's peak. "
        "See model_zoo/RECIPES.md."
    ),
}


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2 ** 20


def ship(model_dir: str | Path, name: str | None = None) -> Path:
    """Copy model_dir to SHIPPED/<name> with the design notes in its card; refuse folders over 25 MB."""
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    if card is None:
        raise FileNotFoundError(f"{model_dir} has no {CARD}: ship a model folder written by model_zoo.train")
    name = name or card["name"]
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"Shipped name {name!r} must be lower-case letters, digits, '-', '_' or '.' (no path, no "
                         "'..'): the model is copied into model_zoo/checkpoints/<name>, replacing any folder there")
    size = folder_mb(model_dir)
    if size > MAX_SHIPPED_MB:
        raise ValueError(f"{model_dir} is {size:.1f} MB; shipped models must stay under {MAX_SHIPPED_MB} MB")
    if card.get("method") == "jepa" and recipe_from_card(card).jepa_center_targets \
            and not (model_dir / TARGET_MEAN).exists():
        fit_target_mean(model_dir)      # trained before train.py wrote it (measured on the phantom): the latent view needs it
        size = folder_mb(model_dir)
    dest = SHIPPED / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(model_dir, dest)
    card.update(name=name, design=DESIGN.get(card["recipe"], ""), size_mb=round(size, 2))
    (dest / CARD).write_text(json.dumps(card, indent=1))
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.ship", description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", help="a run's model folder, e.g. runs/jepa_small/model")
    ap.add_argument("--name", help="shipped name (default: the card's name, e.g. jepa-small)")
    args = ap.parse_args(argv)
    print(f"shipped {ship(args.model_dir, args.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
