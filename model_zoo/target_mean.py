"""The mean target a centred JEPA's predictor learnt to predict around, written beside the model.

With `jepa_center_targets` the JEPA was trained to predict its targets minus their batch mean at each
token position, so its predictions are only comparable with targets centred the same way. The batch
means are gone after training; their expectation over the training clips is not: this measures it on
batches drawn exactly as training drew them (same recipe, crops and acquisition jitter) and writes
target_mean.safetensors into the model folder, which `model_zoo.wrapper.load` reads.

    python -m model_zoo.target_mean runs/jepa_x/model [--batches 8]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from model_zoo.checkpoint import TARGET_MEAN, load_nets, read_card
from model_zoo.data import ClipSource, PhantomBatches, ToInput
from model_zoo.jepa import target_embeddings, target_view, views_of
from model_zoo.recipes import recipe_from_card


@torch.no_grad()
def fit_target_mean(folder: str | Path, batches: int = 8, clip_source: ClipSource | None = None,
                    to_input: ToInput | None = None) -> Path:
    """Measure a centred JEPA's mean target at each token position and write it into folder. -> the file"""
    folder = Path(folder)
    card = read_card(folder)
    if not isinstance(card, dict) or card.get("method") != "jepa":
        raise ValueError(f"{folder} is not a JEPA folder written by model_zoo.train (no JEPA card.json)")
    recipe = recipe_from_card(card)
    if not recipe.jepa_center_targets:
        raise ValueError(f"{folder} was trained on uncentred targets: it has no target mean to measure")
    _, net, _ = load_nets(folder)
    data = PhantomBatches(recipe, 0, clip_source, to_input, views_of(recipe))
    total = None
    for b in range(batches):
        x = target_view(data.batch(b))                                 # (B, T, C, H, W)
        targets, _ = target_embeddings(net.encoder, x, recipe.jepa_target_layers)   # (B, N, D)
        total = targets.sum(0) if total is None else total + targets.sum(0)
    mean = (total / (batches * recipe.batch)).float().contiguous()       # (N, D)
    path = folder / TARGET_MEAN
    save_file({"target_mean": mean}, str(path), metadata={"batches": str(batches), "clips": str(batches * recipe.batch)})
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.target_mean", description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="a centred JEPA's model folder, e.g. runs/jepa_x/model")
    ap.add_argument("--batches", type=int, default=8, help="training batches to average over (default 8)")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"wrote {fit_target_mean(args.folder, args.batches)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
