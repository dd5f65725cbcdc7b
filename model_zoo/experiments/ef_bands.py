"""Where in the EF range the shipped probes err: each shipped model's shipped probes (the issue's attentive
probe and the beat view's) on the benchmark's clean adult test clips, EF MAE and mean signed error (predicted
- true) per band of true EF and per band of predicted EF. One test MAE hides that a probe trained on EF z-scores
pulls low and high EFs toward the training mean; the app's prediction card reads the predicted-EF band of the
EF it shows (app/views/predictions.py).

    python -m model_zoo.experiments.ef_bands [--n 500] [--threads 1] [--out model_zoo/experiments/ef_bands.json]

Same clips, seeds and crop as `python -m model_zoo.evaluate` (model_zoo.features), so the overall MAE it prints
is the shipped probe's card figure (up to thread-count rounding).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import model_zoo
from model_zoo.evaluate.bands import BANDS, RECORD, band_errors
from model_zoo.features import ClipBank, input_shape, model_inputs, split_seeds
from model_zoo.probe_io import BEAT_PROBE, PROBE, PROBE_CARD, load_probe, probe_files
from model_zoo.probes import predict_tokens
from model_zoo.registry import SHIPPED

OUT = RECORD          # where this command writes the record the app reads (model_zoo.evaluate.bands)


def measure(folders: list[Path], n: int) -> dict:
    """{model name: {probe: {'mae', 'by_true_ef', 'by_predicted_ef'}}} on n clean adult test clips."""
    models = {folder.name: model_zoo.load(folder, device="cpu") for folder in folders}
    frames, size = input_shape(next(iter(models.values())))
    bank = ClipBank(frames, size)
    true = bank.ef("test", n)
    probes = {folder.name: {stem: load_probe(folder, stem=stem) for stem in (PROBE, BEAT_PROBE)
                            if probe_files(folder, stem)[1].is_file()} for folder in folders}
    preds = {name: {stem: [] for stem in probes[name]} for name in models}
    with torch.no_grad():
        for x in model_inputs(bank.clips("test", n), split_seeds("test", n), "clean", frames, size):
            for name, wrapper in models.items():
                tokens = wrapper.tokens(x).float().cpu()                      # (B, N, D)
                for stem, probe in probes[name].items():
                    preds[name][stem].append(predict_tokens(probe, tokens))
    out = {}
    for name, by_stem in preds.items():
        out[name] = {}
        for stem, chunks in by_stem.items():
            pred = np.concatenate(chunks)
            out[name][stem] = {"mae": round(float(np.abs(pred - true).mean()), 4),
                               "by_true_ef": band_errors(true, pred, true),
                               "by_predicted_ef": band_errors(true, pred, pred)}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="clean adult test clips (the benchmark's: 500)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    folders = sorted(p.parent for p in SHIPPED.glob(f"*/{PROBE_CARD}"))
    result = {"what": __doc__.splitlines()[0], "n": args.n, "split": "test (adult, clean)", "bands": BANDS,
              "command": f"python -m model_zoo.experiments.ef_bands --n {args.n} --threads {args.threads}",
              "models": measure(folders, args.n), "threads": args.threads}
    result["seconds"] = round(time.perf_counter() - start, 1)
    args.out.write_text(json.dumps(result, indent=1))
    for name, by_stem in result["models"].items():
        for stem, r in by_stem.items():
            bands = "  ".join(f"{b['band'][0]}-{b['band'][1]}: {b['mae']} ({b['bias']:+}, n={b['n']})"
                              for b in r["by_true_ef"] if b["n"])
            print(f"{name} {stem}: MAE {r['mae']:.2f}; by true EF  {bands}")
    print(f"{result['seconds']:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
