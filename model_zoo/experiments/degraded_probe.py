"""Is EF still in a degraded clip? Probes trained on degraded clips, scored on the val split.

    python -m model_zoo.experiments.degraded_probe [--models jepa-small,mae-small] --out DIR
        [--conditions depth_attenuation_2.15,shadow_high] [--pixel-gain-norm 0.05,0.1] [--pixel-gain-eps 0.02,0.005]
        [--n-train 1000 --n-val 250] [--seed 0] [--threads N]

A diagnostic for the robustness goal (model_zoo/RECIPES.md), not part of the benchmark. For each
encoder (the named models plus the `pixels` baseline, and with --pixel-gain-norm the pixels
gain-normalised, model_zoo.gain_norm) and each condition, three val MAEs from one
probe seed, all on the same val clips, every degraded clip degraded inside the clean clip's crop as the
evaluation does (model_zoo.features.model_inputs):
  clean       the benchmark's probe (trained on clean train clips) on clean val clips;
  shifted     that probe on the degraded val clips: what the benchmark measures;
  retrained   a probe trained on degraded train clips (selected on degraded val) on degraded val clips.
Each probe is selected on the clips it is scored on, so `clean` and `retrained` are equally
optimistic. If `retrained` is near `clean`, EF survives the degradation in the encoder's features and
the benchmark's loss is a shift of those features that a more invariant encoder could avoid; if it is
near the train-mean constant's MAE (`floor`, printed), the encoder's features have lost EF.
Writes DIR/degraded_probe.json and prints a table. The test split is never looked at.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model_zoo.evaluate.run import load_models
from model_zoo.experiments.layer_probe import parse_conditions
from model_zoo.experiments.val_options import add_val_options, use_threads
from model_zoo.features import ClipBank, PixelEncoder, extract, input_shape, model_inputs, split_seeds
from model_zoo.gain_norm import EPS
from model_zoo.probe_fit import ProbeTraining, fit_attentive, regression_metrics
from model_zoo.probes import predict_tokens

DEFAULT_CONDITIONS = "depth_attenuation_2.15,shadow_high"


def features(encoders: dict, bank: ClipBank, split: str, n: int, condition: str, frames: int, size: int) -> dict:
    """{name: Features} of a split's first n clips under a condition."""
    batches = model_inputs(bank.clips(split, n), split_seeds(split, n), condition, frames, size)
    return extract(encoders, batches, bank.ef(split, n))


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """MAE in EF points, rounded for the table."""
    return round(regression_metrics(pred, truth)["mae"], 3)


def degraded_probes(encoders: dict, bank: ClipBank, conditions: tuple[str, ...], n_train: int, n_val: int,
                    seed: int, frames: int, size: int) -> dict:
    """{encoder: {"clean": val MAE, condition: {"shifted": val MAE, "retrained": val MAE}}}."""
    clean_train = features(encoders, bank, "train", n_train, "clean", frames, size)
    clean_val = features(encoders, bank, "val", n_val, "clean", frames, size)
    ef_train, ef_val = bank.ef("train", n_train), bank.ef("val", n_val)
    clean_probes, out = {}, {}
    for name in encoders:
        clean_probes[name], info = fit_attentive(clean_train[name].tokens, ef_train, clean_val[name].tokens,
                                                 ef_val, seed, ProbeTraining())
        out[name] = {"clean": round(info["val"]["mae"], 3)}
    del clean_train, clean_val
    for condition in conditions:
        train = features(encoders, bank, "train", n_train, condition, frames, size)
        val = features(encoders, bank, "val", n_val, condition, frames, size)
        for name in encoders:
            _, info = fit_attentive(train[name].tokens, ef_train, val[name].tokens, ef_val, seed, ProbeTraining())
            out[name][condition] = {"shifted": mae(predict_tokens(clean_probes[name], val[name].tokens), ef_val),
                                    "retrained": round(info["val"]["mae"], 3)}
            print(f"{name} {condition}: {out[name][condition]}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.degraded_probe",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="", help="comma-separated shipped names or folder paths (none: pixels only)")
    ap.add_argument("--size", type=int, default=112, help="input side in px when no model is named")
    ap.add_argument("--frames", type=int, default=16, help="input frames when no model is named")
    ap.add_argument("--out", required=True)
    ap.add_argument("--conditions", default=DEFAULT_CONDITIONS,
                    help="'benchmark' or comma-separated echo.degrade conditions")
    ap.add_argument("--pixel-gain-norm", default="", help="comma-separated sigmas: also score the pixels baseline "
                    "gain-normalised with each (model_zoo.gain_norm)")
    ap.add_argument("--pixel-gain-eps", default=f"{EPS:g}", help="comma-separated floors: each --pixel-gain-norm sigma "
                    f"is scored with each (model_zoo.gain_norm; default {EPS:g})")
    add_val_options(ap)
    args = ap.parse_args(argv)
    conditions = parse_conditions(args.conditions)
    if not conditions:
        raise SystemExit("no conditions given")
    use_threads(args)
    encoders = load_models(args.models)
    shapes = {input_shape(w) for w in encoders.values()} or {(args.frames, args.size)}
    if len(shapes) != 1:
        raise SystemExit(f"models take different inputs (frames, size): {sorted(shapes)}; run them separately")
    frames, size = shapes.pop()
    encoders["pixels"] = PixelEncoder(frames, size)
    floors = [float(v) for v in args.pixel_gain_eps.split(",") if v]
    for sigma in (float(v) for v in args.pixel_gain_norm.split(",") if v):
        for eps in floors:
            pixels = PixelEncoder(frames, size, gain_norm=sigma, gain_eps=eps)
            encoders[pixels.name] = pixels
    bank = ClipBank(frames, size)
    results = degraded_probes(encoders, bank, conditions, args.n_train, args.n_val, args.seed, frames, size)
    ef_train, ef_val = bank.ef("train", args.n_train), bank.ef("val", args.n_val)
    floor = mae(np.full_like(ef_val, ef_train.mean()), ef_val)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "degraded_probe.json").write_text(json.dumps(
        {"split": "val", "n_train": args.n_train, "n_val": args.n_val, "probe_seed": args.seed,
         "floor_train_mean_mae": floor, "conditions": list(conditions), "models": results}, indent=1))
    print(f"val MAE; train-mean constant (floor): {floor:.2f}")
    print("| model | clean | " + " | ".join(f"{c} shifted | {c} retrained" for c in conditions) + " |")
    for name, r in results.items():
        print(f"| {name} | {r['clean']:.2f} | "
              + " | ".join(f"{r[c]['shifted']:.2f} | {r[c]['retrained']:.2f}" for c in conditions) + " |")


if __name__ == "__main__":
    main()
