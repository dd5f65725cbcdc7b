"""Do the probes read where the heart sits? Attentive probes trained on clean clips as the evaluation crops
them, or on the same clips also shifted a few pixels up and down, scored on val at each shift (val only).

    python -m model_zoo.experiments.shift_probe --models jepa-small,mae-small --out DIR
        [--pixels 2] [--n-train 1000 --n-val 250] [--seed 0] [--threads N]

A diagnostic for the crop check (explain.analysis.crop_check: the shipped probes' EF moves 1-24 points when
the input moves 2 px), not part of the benchmark. Every phantom clip sits alike in its crop, so a probe can
learn where the walls are as well as how far they move. For each encoder (the named models and raw pixels):
  plain      the evaluation's probe (clean train clips, selected on clean val);
  augmented  the same probe trained on each train clip at -k, 0 and +k px (selected on clean val);
each scored on the val clips at -k, 0 and +k px: val MAE at each shift and of each clip's EF averaged over the
three (a test-time mean), and how far each clip's EF moves between 0 and +-k (mean and 90th percentile over
clips, EF points). If `augmented` keeps its clean MAE and
moves little, the encoder's tokens hold EF wherever the heart sits and only the probe read position; if its
clean MAE rises, the tokens tie EF to position. Writes DIR/shift_probe.json and prints a table. The test split
is never looked at.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from explain.analysis.crop_check import shifted
from model_zoo.evaluate.run import load_models
from model_zoo.experiments.val_options import add_val_options, use_threads
from model_zoo.features import ClipBank, Features, PixelEncoder, extract, input_shape, model_inputs, split_seeds
from model_zoo.probe_fit import ProbeTraining, fit_attentive
from model_zoo.probes import predict_tokens


def shifted_features(encoders: dict, bank: ClipBank, split: str, n: int, pixels: int, frames: int,
                     size: int) -> dict[str, Features]:
    """{name: Features} of a split's first n clean clips, each model input moved `pixels` down (negative: up)."""
    batches = (shifted(x, pixels) for x in model_inputs(bank.clips(split, n), split_seeds(split, n), "clean",
                                                        frames, size))
    return extract(encoders, batches, bank.ef(split, n))


def scores(probe, val: dict[int, Features], k: int) -> dict:
    """Val MAE at each shift, and of each clip's EF averaged over the shifts (a test-time mean); how far each
    clip's EF moves between 0 and +-k px."""
    pred = {s: predict_tokens(probe, f.tokens) for s, f in val.items()}
    truth = val[0].ef
    moves = np.max([np.abs(pred[s] - pred[0]) for s in (-k, k)], axis=0)            # (n,)
    averaged = np.mean([pred[s] for s in (-k, 0, k)], axis=0)                        # (n,)
    return {"val_mae": {str(s): round(float(np.abs(p - truth).mean()), 3) for s, p in pred.items()},
            "val_mae_mean_of_shifts": round(float(np.abs(averaged - truth).mean()), 3),
            "moves_mean": round(float(moves.mean()), 3), "moves_p90": round(float(np.percentile(moves, 90)), 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.shift_probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated shipped names or folder paths")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pixels", type=int, default=2)
    add_val_options(ap)
    args = ap.parse_args(argv)
    use_threads(args)
    encoders = load_models(args.models)
    frames, size = input_shape(next(iter(encoders.values())))
    encoders["pixels"] = PixelEncoder(frames, size)
    bank, k, t = ClipBank(frames, size), args.pixels, time.perf_counter()
    shifts = (-k, 0, k)
    train = {s: shifted_features(encoders, bank, "train", args.n_train, s, frames, size) for s in shifts}
    val = {s: shifted_features(encoders, bank, "val", args.n_val, s, frames, size) for s in shifts}
    print(f"features {time.perf_counter() - t:.0f} s", flush=True)
    rows = {}
    for name in encoders:
        va = {s: val[s][name] for s in shifts}
        plain, _ = fit_attentive(train[0][name].tokens, train[0][name].ef, va[0].tokens, va[0].ef, args.seed,
                                 ProbeTraining())
        tokens = torch.cat([train[s][name].tokens for s in shifts])
        ef = np.concatenate([train[s][name].ef for s in shifts])
        augmented, _ = fit_attentive(tokens, ef, va[0].tokens, va[0].ef, args.seed, ProbeTraining())
        rows[name] = {"plain": scores(plain, va, k), "augmented": scores(augmented, va, k)}
        for kind, r in rows[name].items():
            print(f"{name:12s} {kind:9s} val MAE " + " / ".join(f"{r['val_mae'][str(s)]:.2f}" for s in shifts)
                  + f" (at {-k} / 0 / {k} px), {r['val_mae_mean_of_shifts']:.2f} averaged over them; EF moves "
                  f"{r['moves_mean']:.2f} mean, {r['moves_p90']:.2f} p90", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shift_probe.json").write_text(json.dumps(
        {"split": "val", "pixels": k, "size": size, "n_train": args.n_train, "n_val": args.n_val, "probe_seed": args.seed,
         "results": rows}, indent=1))


if __name__ == "__main__":
    main()
