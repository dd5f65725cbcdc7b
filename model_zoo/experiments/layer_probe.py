"""Where in the encoder is EF? An attentive probe on every layer's tokens, scored on the val split.

    python -m model_zoo.experiments.layer_probe --models jepa-small,mae-small --out DIR
        [--n-train 1000 --n-val 250] [--seed 0] [--threads N] [--conditions benchmark] [--no-random]
        [--target ef]

A diagnostic for the recipe search (model_zoo/RECIPES.md), not part of the benchmark: the same
clips, inputs and probe as `python -m model_zoo.evaluate` (train and val splits only, so the test
split is never looked at), one probe seed, one probe per layer output (layer 0 = the patch
embedding, layer L = the last block, before the final norm; the probe normalises its input).
A random encoder of the first model's architecture is probed too (unless --no-random). With
--conditions (comma-separated echo.degrade conditions, or `benchmark` for the EchoJEPA six), each
layer's probe is also scored on the val clips under each condition (degraded inside the clean crop,
as the evaluation does), with the mean relative degradation over them: the robustness of each layer,
measured without the test split. With --target, the probes read another of the phantom's per-clip
parameters instead of EF (echo.phantom.params): heart size `lv_length_cm`, or as a share of the imaging
depth, as the encoder sees it, `lv_length_share`; wall thickness `wall_cm` (`wall_share`); heart position
`apex_x_cm`; heart rate `hr_bpm`, which in one-beat clips sets how far the speckle decorrelates between
frames (and weakly the systole's share of the beat); gain `gain_db`... So the table says which layer keeps
the anatomy, which the speckle, and where EF is lost. Writes DIR/layer_probe.json and prints a table of
val MAE (in the target's units) per layer.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

from echo.degrade import BENCHMARK_CONDITIONS, CONDITIONS
from echo.phantom import PhantomParams, sample_params
from echo.phantom.seeds import split_population
from model_zoo.evaluate.run import load_models
from model_zoo.evaluate.summary import rel_pct
from model_zoo.experiments.val_options import add_val_options, use_threads
from model_zoo.features import ClipBank, input_shape, model_inputs, random_encoder, split_seeds
from model_zoo.probe_fit import ProbeTraining, fit_attentive, regression_metrics
from model_zoo.probes import predict_tokens
from model_zoo.wrapper import EncoderWrapper


# Sizes as the model sees them: the sector crop maps the imaging depth to the frame's height, so a length
# in cm reaches the encoder as its share of the depth (and the phantom images a longer heart deeper)
SHARES = {"lv_length_share": ("lv_length_cm", "depth_cm"), "wall_share": ("wall_cm", "depth_cm")}
# EF, any per-clip float parameter of the phantom but those the one-beat rendering overrides (fps), the shares
TARGETS = ("ef",) + tuple(f.name for f in dataclasses.fields(PhantomParams)
                          if f.type == "float" and f.name not in ("ef", "fps")) + tuple(SHARES)


def phantom_targets(split: str, n: int, target: str) -> np.ndarray:
    """A split's first n clips' values (n,) of a phantom parameter or share, from the parameters their seeds
    draw (the draw render_beat renders, so no clip is rendered); a ValueError names an unknown target, or
    one that is the same in every clip (nothing for a probe to read). EF is read from the rendered clips."""
    if target not in TARGETS or target == "ef":
        raise ValueError(f"unknown probe target {target!r}; known: {', '.join(TARGETS)}")
    params = [sample_params(s, split_population(split)) for s in split_seeds(split, n)]
    if target in SHARES:
        length, depth = SHARES[target]
        values = np.array([getattr(p, length) / getattr(p, depth) for p in params])
    else:
        values = np.array([getattr(p, target) for p in params])
    if n > 1 and np.ptp(values) == 0:
        raise ValueError(f"probe target {target!r} is {values[0]:g} in every {split} clip: nothing to read")
    return values


def significant(value: float) -> float:
    """Four significant digits: a share's MAE is about 0.01, EF's about 6."""
    return float(f"{value:.4g}")


def blocks(encoder: EncoderWrapper) -> list[torch.nn.Module]:
    """The encoder's transformer blocks in order."""
    return list(encoder.encoder.layer if encoder.family == "jepa" else encoder.encoder.encoder.layer)


@torch.no_grad()
def layer_tokens(encoder: EncoderWrapper, x: torch.Tensor) -> list[torch.Tensor]:
    """Tokens after the embedding and after every block: L + 1 tensors (B, N, D), float16 on the CPU."""
    outs: list[torch.Tensor] = []
    keep = lambda _m, _i, out: outs.append((out[0] if isinstance(out, tuple) else out).half().cpu())
    embed = encoder.encoder.embeddings
    handles = [embed.register_forward_hook(keep)] + [b.register_forward_hook(keep) for b in blocks(encoder)]
    try:
        encoder.tokens(x)
    finally:
        for h in handles:
            h.remove()
    return outs


def split_layer_tokens(encoder: EncoderWrapper, bank: ClipBank, split: str, n: int, condition: str,
                       frames: int, size: int) -> list[torch.Tensor]:
    """Every layer's tokens of a split's first n clips under a condition: L + 1 tensors (n, N, D)."""
    parts = [layer_tokens(encoder, x) for x in model_inputs(bank.clips(split, n), split_seeds(split, n),
                                                             condition, frames, size)]
    return [torch.cat(layer) for layer in zip(*parts)]


def probe_layers(encoder: EncoderWrapper, bank: ClipBank, y_train: np.ndarray, y_val: np.ndarray, seed: int,
                 frames: int, size: int, conditions: tuple[str, ...] = ()) -> list[dict]:
    """Val metrics of an attentive probe for the target (y_train (n_train,), y_val (n_val,) of the splits'
    first clips) on each layer's tokens, clean and under each condition."""
    train = split_layer_tokens(encoder, bank, "train", len(y_train), "clean", frames, size)
    val = split_layer_tokens(encoder, bank, "val", len(y_val), "clean", frames, size)
    rows, probes = [], []
    for layer, (tr, va) in enumerate(zip(train, val)):
        probe, info = fit_attentive(tr, y_train, va, y_val, seed, ProbeTraining())
        probes.append(probe)
        rows.append({"layer": layer, **{k: significant(v) for k, v in info["val"].items()},
                     "best_epoch": info["best_epoch"]})
        print(f"{encoder.name} layer {layer}: val MAE {info['val']['mae']:.3g}", file=sys.stderr, flush=True)
    del train, val
    for condition in conditions:
        degraded = split_layer_tokens(encoder, bank, "val", len(y_val), condition, frames, size)
        for row, probe, tokens in zip(rows, probes, degraded):
            mae = regression_metrics(predict_tokens(probe, tokens), y_val)["mae"]
            row.setdefault("degraded", {})[condition] = significant(mae)
        print(f"{encoder.name} {condition}: " + " ".join(f"{r['degraded'][condition]:.2f}" for r in rows),
              file=sys.stderr, flush=True)
    for row in rows:
        if conditions:
            row["mean_rel_degradation_pct"] = round(float(np.mean(
                [rel_pct(row["degraded"][c], row["mae"]) for c in conditions])), 1)
    return rows


def parse_conditions(text: str) -> tuple[str, ...]:
    """'benchmark' -> the EchoJEPA six; else comma-separated echo.degrade conditions, each checked."""
    if not text:
        return ()
    names = BENCHMARK_CONDITIONS if text == "benchmark" else tuple(c for c in text.split(",") if c)
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        raise SystemExit(f"unknown conditions {unknown}; known: benchmark or {', '.join(CONDITIONS)}")
    return tuple(names)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.layer_probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated shipped names or folder paths")
    ap.add_argument("--out", required=True)
    add_val_options(ap)
    ap.add_argument("--conditions", default="", help="'benchmark' or comma-separated echo.degrade conditions, scored on val")
    ap.add_argument("--no-random", action="store_true", help="skip the random encoder")
    ap.add_argument("--target", default="ef", choices=TARGETS, metavar="TARGET",
                    help="what the probes read: ef, or a phantom parameter (" + ", ".join(TARGETS[1:]) + ")")
    args = ap.parse_args(argv)
    conditions = parse_conditions(args.conditions)
    use_threads(args)
    targets = None                          # a parameter target is drawn before any model loads, and refused
    if args.target != "ef":
        try:
            targets = (phantom_targets("train", args.n_train, args.target),
                       phantom_targets("val", args.n_val, args.target))
        except ValueError as e:
            raise SystemExit(str(e)) from None
    encoders = load_models(args.models)
    first = next(iter(encoders.values()))
    if not args.no_random:
        encoders["random"] = random_encoder(first, args.seed)
    frames, size = input_shape(first)
    bank = ClipBank(frames, size)
    y_train, y_val = targets or (bank.ef("train", args.n_train), bank.ef("val", args.n_val))
    results = {name: probe_layers(enc, bank, y_train, y_val, args.seed, frames, size, conditions)
               for name, enc in encoders.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "layer_probe.json").write_text(json.dumps(
        {"split": "val", "n_train": args.n_train, "n_val": args.n_val, "probe_seed": args.seed,
         "val_ef_std": round(float(np.std(bank.ef("val", args.n_val))), 3), "conditions": list(conditions),
         "target": args.target, "val_target_std": round(float(np.std(y_val)), 3),
         "layers": results}, indent=1))
    print("| model | " + " | ".join(f"layer {r['layer']}" for r in next(iter(results.values()))) + " |")
    for name, rows in results.items():
        print(f"| {name} | " + " | ".join(f"{r['mae']:.3g} (R2 {r['r2']:.2f})" for r in rows) + " |")
        if conditions:
            print(f"| {name} mean degradation | " + " | ".join(f"{r['mean_rel_degradation_pct']:+.1f}%"
                                                          for r in rows) + " |")


if __name__ == "__main__":
    main()
