"""What attention rollout costs: time as a ratio of a plain forward pass, and the memory of fused vs
unfused head capture for a ViT-L-sized encoder at 16 x 224 (1568 tokens). A benchmark, not a test.

    python bench/rollout_cost.py [--repeats 7] [--vitl-layers 4] [--threads 1]

Time: for the shipped jepa-small and mae-small (16 x 112, 392 tokens) the median of `repeats`
runs of (a) the plain forward (SDPA, no hooks), (b) the same forward with eager attention and no
hooks, (c) attention_rollout (eager attention, heads fused and the rollout product accumulated
inside the hook). Target: (c) / (a) <= 1.3.

Memory: a random ViT-L-sized VJEPA2 encoder (1024 d, 16 heads, patch 16, tubelet 2) at 16 x 224.
A full 24-layer forward takes ~40-60 s on this shared CPU per run, so `vitl-layers` layers are run
(default 4) and the per-layer figures scaled to 24: the bytes the recorder holds after the pass
(exact: counted from its tensors) and the process's peak resident memory above the model (each
configuration in a fresh subprocess, ru_maxrss), with the seconds of one pass (plain SDPA, eager
without hooks, fused rollout, unfused capture), which give the rollout's cost ratio at that size. Unfused capture keeps every layer's (heads, N, N)
maps; fused rollout keeps one (N, N) product.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import model_zoo  # noqa: E402
from explain.rollout import attention_rollout  # noqa: E402
from model_zoo.attention import AttentionRecorder, RolloutSpec  # noqa: E402
from model_zoo.wrapper import eager_attention  # noqa: E402

MB = 2 ** 20


def median_times(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function, runs interleaved so that load changes on a shared CPU hit all alike."""
    for fn in fns.values():
        fn()                                               # warm-up
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def time_table(repeats: int) -> list[str]:
    rows = ["| model | tokens | plain forward (SDPA) s | eager forward s | rollout s | rollout / plain | "
            "rollout / eager |", "|---|---|---|---|---|---|---|"]
    for name in ("jepa-small", "mae-small"):
        w = model_zoo.load(name, device="cpu")
        x = torch.randn(1, 16, 3, 112, 112)

        def eager():
            with eager_attention(w.encoder):
                w.encoder(x)
        with torch.no_grad():
            t = median_times({"plain": lambda: w.encoder(x), "eager": eager,
                              "rollout": lambda: attention_rollout(w, x)}, repeats)
        rows.append(f"| {name} | {w.grid[0] * w.grid[1] * w.grid[2]} | {t['plain']:.4f} | {t['eager']:.4f} | "
                    f"{t['rollout']:.4f} | {t['rollout'] / t['plain']:.2f} | {t['rollout'] / t['eager']:.2f} |")
    return rows


def vitl(layers: int):
    from transformers import VJEPA2Config
    from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder
    torch.manual_seed(0)
    config = VJEPA2Config(crop_size=224, frames_per_clip=16, hidden_size=1024, num_hidden_layers=layers,
                          num_attention_heads=16, patch_size=16, tubelet_size=2)
    config._attn_implementation = "sdpa"
    return VJEPA2Encoder(config).eval()


def child(mode: str, layers: int) -> None:
    """One configuration in a fresh process: print JSON {held_bytes, peak_mb_above_model, seconds}."""
    encoder = vitl(layers)
    x = torch.randn(1, 16, 3, 224, 224)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024          # MB, model + input
    t0 = time.perf_counter()
    with torch.no_grad():
        if mode in ("plain", "eager"):
            with eager_attention(encoder) if mode == "eager" else contextlib.nullcontext():
                encoder(x)
            held = 0
        else:
            fused = mode == "fused"
            rec = AttentionRecorder([layer.attention for layer in encoder.layer], root=encoder,
                                    fuse_heads="mean" if fused else None, keep_maps=not fused,
                                    rollout=RolloutSpec() if fused else None)
            with rec:
                encoder(x)
            held = sum(m.nbytes for m in rec.maps) + (rec.rollout.nbytes if rec.rollout is not None else 0)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"held_bytes": held, "peak_mb_above_model": peak - base, "seconds": seconds}))


def memory_table(layers: int, threads: int) -> list[str]:
    n, heads = 1568, 16
    rows = [f"ViT-L-sized VJEPA2 encoder, 16 x 224 ({n} tokens, {heads} heads), {layers} layers run, "
            "held bytes scaled to 24 layers:", "",
            f"| capture | held after the pass ({layers} layers) MB | held at 24 layers MB | peak RSS above model "
            f"({layers} layers) MB | seconds ({layers} layers) |", "|---|---|---|---|---|"]
    for mode in ("plain", "eager", "fused", "unfused"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--vitl-layers", str(layers),
                              "--threads", str(threads)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        at24 = r["held_bytes"] if mode != "unfused" else r["held_bytes"] / layers * 24
        label = {"plain": "none (plain SDPA forward)", "eager": "none (eager attention forward)", "fused": "fused heads, rollout on the fly",
                 "unfused": "all heads of every layer"}[mode]
        rows.append(f"| {label} | {r['held_bytes'] / MB:.1f} | {at24 / MB:.1f} | {r['peak_mb_above_model']:.0f} | "
                    f"{r['seconds']:.1f} |")
    rows.append(f"\nexpected: fused R = {n}^2 x 4 B = {n * n * 4 / MB:.1f} MB; unfused = 24 x {heads} x {n}^2 x 4 B "
                f"= {24 * heads * n * n * 4 / MB:.0f} MB")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--vitl-layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", choices=("plain", "eager", "fused", "unfused"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child(args.child, args.vitl_layers)
        return
    print(f"torch threads {args.threads}, CPU\n")
    print("\n".join(time_table(args.repeats)), flush=True)
    print()
    print("\n".join(memory_table(args.vitl_layers, args.threads)))


if __name__ == "__main__":
    main()
