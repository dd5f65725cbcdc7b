"""How much of a pretraining frame's change over the beat is anatomy, sharp and blurred (picks a JEPA's
target blur, Recipe.jepa_target_blur, without reading EF or any held-out clip).

For each training clip (seeds from the recipe's pool), the phantom's speckle-free render (truth.clean) is
what anatomy alone looks like. Both it and the rendered frames (the full 112 px render, not the sector
crop or the random crops training takes, which enlarge 1-1.4x) are blurred by a Gaussian of sigma pixels
(model_zoo.gain_norm.blur_frames, the blur a target view gets) and compared inside the fan:
    frame_corr   = correlation of the blurred frames with the blurred speckle-free ones
    change_share = squared correlation of their frame-to-frame changes: the share of what changes
                   between frames that anatomy explains (the rest is speckle decorrelating and noise)
Speckle is finer than anatomy, so a small blur raises change_share; a large one smears the walls too.

    python -m model_zoo.experiments.speckle_share [--clips 12] [--sigmas 0,1.5,2,3,4,6]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from model_zoo.data import render_beat
from model_zoo.gain_norm import blur_frames
from model_zoo.recipes import get_recipe


def _blurred(frames: np.ndarray, sigma: float) -> np.ndarray:
    """(T, H, W) grey -> the same, blurred (sigma 0: as it is)."""
    x = torch.tensor(frames, dtype=torch.float32)[None, :, None]              # (1, T, 1, H, W)
    return (blur_frames(x, sigma) if sigma > 0 else x)[0, :, 0].numpy()


def clip_shares(frames: np.ndarray, clean: np.ndarray, sigma: float) -> tuple[float, float]:
    """(frame_corr, change_share) of one clip: frames and clean (T, H, W) grey."""
    noisy, anatomy = _blurred(frames, sigma), _blurred(clean, sigma)
    fan = np.broadcast_to(clean.max(0) > 2, noisy.shape)                       # (T, H, W)
    frame_corr = np.corrcoef(noisy[fan], anatomy[fan])[0, 1]
    change_corr = np.corrcoef(np.diff(noisy, axis=0)[fan[1:]], np.diff(anatomy, axis=0)[fan[1:]])[0, 1]
    return float(frame_corr), float(change_corr ** 2)


def speckle_shares(sigmas: list[float], clips: int, recipe_name: str = "small") -> dict[float, tuple[float, float]]:
    """{sigma: (mean frame_corr, mean change_share)} over the first `clips` clips of the recipe's pool."""
    recipe = get_recipe(recipe_name)
    rows: dict[float, list[tuple[float, float]]] = {s: [] for s in sigmas}
    for seed in range(recipe.data_seed, recipe.data_seed + clips):
        clip = render_beat(seed, recipe.population, recipe.frames, recipe.size)
        frames = clip.frames.astype(np.float32)
        frames = frames.mean(-1) if frames.ndim == 4 else frames               # (T, H, W) grey
        for s in sigmas:
            rows[s].append(clip_shares(frames, clip.truth.clean.astype(np.float32), s))
    return {s: tuple(np.mean(v, axis=0)) for s, v in rows.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.speckle_share", description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=12, help="training clips to measure (default 12)")
    ap.add_argument("--sigmas", default="0,1.5,2,3,4,6", help="blur sigmas in input pixels, comma-separated")
    args = ap.parse_args(argv)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    print("| blur sigma (px) | frame vs speckle-free | share of frame-to-frame change that is anatomy |")
    print("|---|---|---|")
    for s, (frame_corr, share) in speckle_shares(sigmas, args.clips).items():
        print(f"| {s:g} | {frame_corr:.3f} | {share:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
