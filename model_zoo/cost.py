"""What a forward pass of an encoder costs, from its config: tokens, GFLOPs, estimated CPU seconds,
and the most frames that fit a time budget (so the app can warn and offer fewer frames for a
real ViT-L instead of hanging).

CPU seconds = GFLOPs / the CPU's speed: the speed a model's own token passes ran at on this machine once it
has run one (cpu_speed: EncoderWrapper times each), else CPU_GFLOPS, calibrated by `python
bench/vit_large_forward.py --threads 2` (a random ViT-L VJEPA2 encoder on this project's 2-core CPU, shared
with other jobs: 35.8 s at 16 x 224 x 224, 23.5 s at 8 frames, 8.4 s at 4). A quiet or larger machine runs
several times faster than that guess, which refused views that would have run in time; a busier one slower.
"""
from __future__ import annotations

import math

CPU_GFLOPS = 30.0      # 2 threads, bench/vit_large_forward.py: 33, 23, 30 GFLOP/s at 16, 8, 4 frames (shared CPU)


def cpu_speed(wrapper) -> tuple[float, bool]:
    """(GFLOP/s, measured): the median speed of the model's last token passes on this CPU (EncoderWrapper's
    cpu_speeds), or CPU_GFLOPS and False before it has run one (or for an object that keeps no timings)."""
    speeds = sorted(getattr(wrapper, "cpu_speeds", ()))
    if not speeds:
        return CPU_GFLOPS, False
    return speeds[len(speeds) // 2], True


def _shape(config) -> dict:
    """Sizes from a VJEPA2 or VideoMAE config (object or dict), or a model/wrapper carrying `.config`."""
    config = getattr(config, "config", config)
    c = config if isinstance(config, dict) else config.to_dict()
    jepa = c["model_type"] == "vjepa2"
    width = c["hidden_size"]
    return {"frames": c["frames_per_clip"] if jepa else c["num_frames"],
            "size": c["crop_size"] if jepa else c["image_size"], "patch": c["patch_size"],
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


def estimate(config, frames: int | None = None, gflops_per_s: float = CPU_GFLOPS) -> dict:
    """{'frames', 'size', 'grid' (T', H', W'), 'tokens', 'gflops', 'cpu_seconds'} for one clip's forward pass."""
    s = _shape(config)
    frames = frames or s["frames"]
    tokens, gflops = forward_gflops(config, frames)
    return {"frames": frames, "size": s["size"], "grid": _grid(s, frames), "tokens": tokens, "gflops": round(gflops, 1),
            "cpu_seconds": round(gflops / gflops_per_s, 2)}


def suggest_frames(config, budget_s: float, gflops_per_s: float = CPU_GFLOPS) -> int:
    """The most frames (a multiple of the tubelet, at most the config's) whose forward pass fits
    budget_s; the fewest possible (one tubelet) if none does."""
    s = _shape(config)
    options = range(s["frames"] - s["frames"] % s["tubelet"], s["tubelet"] - 1, -s["tubelet"])
    for frames in options:
        if forward_gflops(config, frames)[1] / gflops_per_s <= budget_s:
            return frames
    return s["tubelet"]


def advice(config, budget_s: float = 10.0, gflops_per_s: float = CPU_GFLOPS) -> dict:
    """estimate() plus 'slow' (over budget), 'suggested_frames' and a one-line 'message' for the app."""
    est = estimate(config, gflops_per_s=gflops_per_s)
    slow = est["cpu_seconds"] > budget_s
    frames = suggest_frames(config, budget_s, gflops_per_s) if slow else est["frames"]
    message = (f"one forward pass: {est['tokens']} tokens, {est['gflops']:.0f} GFLOPs, about "
               f"{est['cpu_seconds']:.0f} s on a 2-core CPU" +
               (f"; over the {budget_s:.0f} s budget: {frames} frames would take about "
                f"{estimate(config, frames, gflops_per_s)['cpu_seconds']:.0f} s" if slow else ""))
    return {**est, "slow": slow, "suggested_frames": frames, "message": message}
