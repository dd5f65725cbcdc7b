"""What a forward pass of an encoder costs, from its config: tokens, GFLOPs, estimated CPU seconds,
and the most frames that fit a time budget (so the app can warn and offer fewer frames for a
real ViT-L instead of hanging).

CPU seconds = GFLOPs / the CPU's speed (cpu_speed): the speed a model's own token passes ran at on this machine
once it has run one (EncoderWrapper times each); before that, this machine's speed at a large matrix product,
measured once per thread count, times MATMUL_EFFICIENCY (a ViT-L forward's share of it). A fixed 30 GFLOP/s,
from a busy 2-core CPU, had been the guess: `python bench/vit_large_forward.py --threads 2` later ran the ViT-L at
257 GFLOP/s on a quiet machine, so the guess refused views that would have run in seconds.
"""
from __future__ import annotations

import functools
import math
import time

MATMUL_EFFICIENCY = 0.78   # a ViT-L forward's GFLOP/s over a (784, 1024) x (1024, 4096) float32 product's
                           # (bench/vit_large_forward.py --threads 2: 257 against 330 GFLOP/s)


@functools.lru_cache(maxsize=4)
def machine_speed(threads: int) -> float:
    """GFLOP/s a ViT forward is expected to reach on this CPU at torch's thread count, `threads` (the cache's key:
    the caller passes torch.get_num_threads(); nothing here changes it, which would reach every thread serving):
    the best of three timed (784, 1024) x (1024, 4096) float32 products (6.6 GFLOPs each, a ViT-L MLP layer's at
    8 frames), times MATMUL_EFFICIENCY. Measured once per thread count per process."""
    import torch
    a, b = torch.randn(784, 1024), torch.randn(1024, 4096)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return MATMUL_EFFICIENCY * 2 * 784 * 1024 * 4096 / max(best, 1e-6) / 1e9


def cpu_speed(wrapper) -> tuple[float, bool]:
    """(GFLOP/s, measured): the median speed of the model's last token passes on this CPU (EncoderWrapper's
    cpu_speeds), or this machine's expected speed (machine_speed) and False before it has run one (or for a
    config or any object that keeps no timings)."""
    speeds = sorted(getattr(wrapper, "cpu_speeds", ()))
    if not speeds:
        import torch
        return machine_speed(torch.get_num_threads()), False
    return speeds[len(speeds) // 2], True


def _shape(config) -> dict:
    """Sizes from a VJEPA2 or VideoMAE config (object or dict), or a model/wrapper carrying `.config`."""
    from model_zoo.masks import clip_shape                # masks imports torch: lazily, as machine_speed does

    config = getattr(config, "config", config)
    c = config if isinstance(config, dict) else config.to_dict()
    jepa = c["model_type"] == "vjepa2"
    width, (frames, size) = c["hidden_size"], clip_shape(c)
    return {"frames": frames, "size": size, "patch": c["patch_size"],
            "tubelet": c["tubelet_size"], "channels": c.get("in_chans", c.get("num_channels", 3)),
            "width": width, "depth": c["num_hidden_layers"],
            "mlp": int(width * c["mlp_ratio"]) if jepa else c["intermediate_size"]}


def _grid(s: dict, frames: int) -> tuple[int, int, int]:
    """(T', H', W') tokens of a _shape at `frames` frames."""
    return frames // s["tubelet"], s["size"] // s["patch"], s["size"] // s["patch"]


def forward_gflops(config, frames: int | None = None) -> tuple[int, float]:
    """(tokens, GFLOPs) of one encoder forward pass on one clip (multiply-add = 2 FLOPs)."""
    s = _shape(config)
    frames = frames or s["frames"]
    n = math.prod(_grid(s, frames))
    d = s["width"]
    embed = n * d * s["channels"] * s["tubelet"] * s["patch"] ** 2
    layer = n * (4 * d * d + 2 * d * s["mlp"]) + 2 * n * n * d     # qkv + proj + MLP, scores + weighted sum
    return n, 2 * (embed + s["depth"] * layer) / 1e9


def estimate(config, frames: int | None = None, gflops_per_s: float | None = None) -> dict:
    """{'frames', 'size', 'grid' (T', H', W'), 'tokens', 'gflops', 'cpu_seconds'} for one clip's forward pass;
    gflops_per_s: the CPU's speed, default cpu_speed's for `config` (a wrapper's own passes, else this machine's)."""
    gflops_per_s = gflops_per_s or cpu_speed(config)[0]
    s = _shape(config)
    frames = frames or s["frames"]
    tokens, gflops = forward_gflops(config, frames)
    return {"frames": frames, "size": s["size"], "grid": _grid(s, frames), "tokens": tokens, "gflops": round(gflops, 1),
            "cpu_seconds": round(gflops / gflops_per_s, 2)}


def suggest_frames(config, budget_s: float, gflops_per_s: float | None = None) -> int:
    """The most frames (a multiple of the tubelet, at most the config's) whose forward pass fits
    budget_s; the fewest possible (one tubelet) if none does."""
    gflops_per_s = gflops_per_s or cpu_speed(config)[0]
    s = _shape(config)
    options = range(s["frames"] - s["frames"] % s["tubelet"], s["tubelet"] - 1, -s["tubelet"])
    for frames in options:
        if forward_gflops(config, frames)[1] / gflops_per_s <= budget_s:
            return frames
    return s["tubelet"]


def advice(config, budget_s: float = 10.0, gflops_per_s: float | None = None) -> dict:
    """estimate() plus 'slow' (over budget), 'suggested_frames' and a one-line 'message' for the app."""
    gflops_per_s = gflops_per_s or cpu_speed(config)[0]
    est = estimate(config, gflops_per_s=gflops_per_s)
    slow = est["cpu_seconds"] > budget_s
    frames = suggest_frames(config, budget_s, gflops_per_s) if slow else est["frames"]
    message = (f"one forward pass: {est['tokens']} tokens, {est['gflops']:.0f} GFLOPs, about "
               f"{est['cpu_seconds']:.0f} s on this CPU" +
               (f"; over the {budget_s:.0f} s budget: {frames} frames would take about "
                f"{estimate(config, frames, gflops_per_s)['cpu_seconds']:.0f} s" if slow else ""))
    return {**est, "slow": slow, "suggested_frames": frames, "message": message}
