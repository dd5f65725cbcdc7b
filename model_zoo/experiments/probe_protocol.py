"""Does the attentive probe's training decide the ranking? Probe-training variants on the same features,
scored on the val split (clean and under the EchoJEPA six), over several probe seeds.

    python -m model_zoo.experiments.probe_protocol --models jepa-small,mae-small --out DIR
        [--variants baseline,cosine,...] [--probe-seeds 3] [--n-train 1000 --n-val 250] [--threads N]

A diagnostic for the evaluation protocol (model_zoo/RECIPES.md), not part of the benchmark: the
evaluation's clips, inputs and probe (model_zoo.evaluate), train and val only, so the test split is never
looked at. Features of train, val and the degraded val clips are extracted once per encoder (a random
encoder of the first model's architecture and raw pixels are included); each variant trains
`--probe-seeds` probes per encoder. Variants (see VARIANTS): the lr and its schedule, patience, and
standardising tokens before the probe with the training split's statistics, per dimension ('dim') or
per token position and dimension ('position'), up to 300 epochs ('long'), and each token beside its
deviation from its place's mean over the beat ('beat', standardised per dimension). Writes
DIR/probe_protocol.json and prints a table of val MAE (mean +- std over probe seeds), best epochs, and
the mean relative degradation on val.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.evaluate.format import plus_minus
from model_zoo.evaluate.run import load_models
from model_zoo.evaluate.summary import rel_pct
from model_zoo.experiments.degraded_probe import features
from model_zoo.experiments.val_options import add_val_options, use_threads
from model_zoo.features import ClipBank, PixelEncoder, input_shape, random_encoder
from model_zoo.probe_fit import ProbeTraining, fit_attentive
from model_zoo.probe_inputs import standardiser
from model_zoo.probes import predict_tokens

BASE = ProbeTraining()
VARIANTS = {
    "baseline": (BASE, "none"),
    "patience40": (replace(BASE, patience=40), "none"),
    "cosine": (replace(BASE, schedule="cosine", warmup_epochs=5, patience=100), "none"),
    "cosine_lr3e-3": (replace(BASE, lr=3e-3, schedule="cosine", warmup_epochs=5, patience=100), "none"),
    "dim": (BASE, "dim"),
    "position": (BASE, "position"),
    "cosine_dim": (replace(BASE, schedule="cosine", warmup_epochs=5, patience=100), "dim"),
    "long": (replace(BASE, max_epochs=300, patience=40), "none"),
    "beat": (BASE, "beat"),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.probe_protocol", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated shipped names or folder paths")
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--probe-seeds", type=int, default=3)
    add_val_options(ap)
    args = ap.parse_args(argv)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    use_threads(args)
    encoders = load_models(args.models)
    first = next(iter(encoders.values()))
    frames, size = input_shape(first)
    encoders["random"] = random_encoder(first, args.seed)
    encoders["pixels"] = PixelEncoder(frames, size)
    bank = ClipBank(frames, size)
    t = time.perf_counter()
    train = features(encoders, bank, "train", args.n_train, "clean", frames, size)
    val = features(encoders, bank, "val", args.n_val, "clean", frames, size)
    degraded = {c: features(encoders, bank, "val", args.n_val, c, frames, size) for c in BENCHMARK_CONDITIONS}
    print(f"features {time.perf_counter() - t:.0f} s", flush=True)
    seeds = [args.seed + k for k in range(args.probe_seeds)]
    rows = {}
    for variant in variants:
        training, kind = VARIANTS[variant]
        for name in encoders:
            t = time.perf_counter()
            tr, va = train[name], val[name]
            norm = standardiser(tr.tokens, kind, encoders[name].grid[0])
            tr_tokens, va_tokens = norm(tr.tokens), norm(va.tokens)                 # once for every seed
            fits = [fit_attentive(tr_tokens, tr.ef, va_tokens, va.ef, s, training) for s in seeds]
            maes = [i["val"]["mae"] for _, i in fits]
            cond = {}
            for c in BENCHMARK_CONDITIONS:
                tokens = norm(degraded[c][name].tokens)
                cond[c] = float(np.mean([np.abs(predict_tokens(p, tokens) - va.ef).mean() for p, _ in fits]))
            clean = float(np.mean(maes))
            rows.setdefault(variant, {})[name] = {
                "val_mae": round(clean, 3), "val_mae_std": round(float(np.std(maes, ddof=1)), 3),
                "val_mae_seeds": [round(m, 3) for m in maes],
                "best_epochs": [i["best_epoch"] for _, i in fits], "epochs": [i["epochs"] for _, i in fits],
                "degraded": {c: round(v, 3) for c, v in cond.items()},
                "mean_rel_degradation_pct": round(float(np.mean([rel_pct(v, clean) for v in cond.values()])), 1),
                "wall_s": round(time.perf_counter() - t, 1)}
            r = rows[variant][name]
            print(f"{variant:14s} {name:12s} val {r['val_mae']:.2f} +- {r['val_mae_std']:.2f} "
                  f"best {r['best_epochs']} deg {r['mean_rel_degradation_pct']:+.1f}% ({r['wall_s']:.0f} s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe_protocol.json").write_text(json.dumps(
        {"split": "val", "n_train": args.n_train, "n_val": args.n_val, "probe_seeds": seeds,
         "variants": {v: {"training": VARIANTS[v][0].to_dict(), "standardise": VARIANTS[v][1]} for v in variants},
         "val_ef_std": round(float(np.std(bank.ef("val", args.n_val))), 3), "results": rows}, indent=1))
    print("| variant | " + " | ".join(encoders) + " |")
    for variant, by_name in rows.items():
        print(f"| {variant} | " + " | ".join(f"{plus_minus(r['val_mae'], r['val_mae_std'])} ({r['mean_rel_degradation_pct']:+.0f}%)"
                                             for r in by_name.values()) + " |")


if __name__ == "__main__":
    main()
