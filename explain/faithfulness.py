"""Faithfulness: does removing the tubelets a map ranks highest change the EF prediction most?

Deletion: black out tubelets in the map's order (most important first) and follow |EF(x_k) - EF(x)|
as the removed share goes 0 -> 1; a faithful map makes it rise early (large area under the curve).
Insertion: start from a black clip and restore tubelets in the same order; a faithful map brings
EF back early (small area under |EF(x_k) - EF(x)|). Both are compared with random orders (mean and
std over seeds). A map is 'better than random' on a curve when it beats the random mean by more
than the random orders' std; otherwise it is reported as 'no better than random'.

Note: black is also Occlusion's reference, which favours Occlusion on the first deletion steps.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from explain.attribution.baseline import black_like
from explain.maps import tokens_to_pixels

MODES = ("deletion", "insertion")
BETTER, NOT_BETTER = "better than random", "no better than random"
TIE_SEED = 1_000_003        # ties' fixed shuffle; not one of random_aucs' seeds, so a flat map is no baseline's twin


def importance_order(values) -> np.ndarray:
    """Token indices, most important first. (N,) or (T', H', W') -> (N,)

    Ties come in a fixed shuffled order, not by index: a flat map (or its flat stretch, such as the zero gradient
    outside the fan) must not rank tokens by raster position, which would delete the first time slot's top rows
    first and call a map that says nothing 'better than random' wherever those rows matter."""
    v = np.asarray(getattr(values, "values", values), np.float64).ravel()
    shuffle = np.random.default_rng(TIE_SEED).permutation(v.size)
    return shuffle[np.argsort(-v[shuffle], kind="stable")]


def perturbed_clips(x: torch.Tensor, order: np.ndarray, grid: tuple[int, int, int], tubelet: int, patch: int,
                    mode: str, steps: int) -> tuple[np.ndarray, torch.Tensor]:
    """(fractions (steps + 1,), clips (steps + 1, T, C, H, W)): the first k = round(f * N) tubelets of
    `order` blacked out (deletion) or the only ones kept (insertion) at each fraction f."""
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}: use 'deletion' or 'insertion'.")
    n = int(np.prod(grid))
    order = np.asarray(order)
    if x.ndim != 5 or x.shape[0] != 1:
        raise ValueError(f"One clip (1, T, C, H, W) is needed; got {tuple(x.shape)}.")
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError(f"The order must be a permutation of the {n} tokens.")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}.")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    chosen = torch.zeros(steps + 1, n, dtype=torch.bool)
    for i, f in enumerate(fractions):
        chosen[i, torch.as_tensor(order[:int(round(f * n))], dtype=torch.long)] = True
    hide = chosen if mode == "deletion" else ~chosen                                  # (S, N)
    pix = tokens_to_pixels(hide, grid, tubelet, patch).to(x.device)                   # (S, T, 1, H, W)
    return fractions, torch.where(pix, black_like(x), x)                              # (S, T, C, H, W)


def curve(ef: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, order: np.ndarray,
          grid: tuple[int, int, int], tubelet: int, patch: int, mode: str = "deletion", steps: int = 16,
          reference: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(fractions, |EF change| in EF points) along a deletion or insertion order.
    ef: batched clips (M, T, C, H, W) -> EF (M,) without gradients (EFForward.batched)."""
    fractions, clips = perturbed_clips(x, order, grid, tubelet, patch, mode, steps)
    ref = float(ef(x)[0]) if reference is None else reference
    return fractions, np.abs(ef(clips).numpy().astype(np.float64) - ref)


def auc(fractions: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under the curve over fractions in [0, 1] (mean EF change, EF points)."""
    f, v = np.asarray(fractions, np.float64), np.asarray(values, np.float64)
    return float(((v[1:] + v[:-1]) * np.diff(f)).sum() / 2)


def random_aucs(ef, x, grid, tubelet, patch, steps: int = 16, seeds: Sequence[int] = (0, 1, 2),
                reference: float | None = None) -> dict[str, list[float]]:
    """Deletion and insertion AUCs of random orders, one per seed: {'deletion': [...], 'insertion': [...]}."""
    n = int(np.prod(grid))
    ref = float(ef(x)[0]) if reference is None else reference
    out = {m: [] for m in MODES}
    for s in seeds:
        order = np.random.default_rng(s).permutation(n)
        for m in MODES:
            out[m].append(auc(*curve(ef, x, order, grid, tubelet, patch, m, steps, ref)))
    return out


def verdict(value: float, random: Sequence[float], mode: str) -> str:
    """'better than random' when the map beats the random mean by more than the random std."""
    mean, std = float(np.mean(random)), float(np.std(random))
    better = value > mean + std if mode == "deletion" else value < mean - std
    return BETTER if better else NOT_BETTER


def faithfulness(ef, x: torch.Tensor, values, grid: tuple[int, int, int], tubelet: int, patch: int,
                 steps: int = 16, seeds: Sequence[int] = (0, 1, 2),
                 random: dict[str, list[float]] | None = None) -> dict:
    """Deletion and insertion of one clip in a map's order against random orders (pass `random`
    from random_aucs to share it between maps of the same clip). -> {'deletion': {...}, 'insertion': {...}}
    each with 'auc', 'random_mean', 'random_std', 'verdict', 'curve'; plus 'fractions' and 'ef'."""
    ref = float(ef(x)[0])
    random = random or random_aucs(ef, x, grid, tubelet, patch, steps, seeds, ref)
    order = importance_order(values)
    out: dict = {"ef": ref}
    for m in MODES:
        fractions, c = curve(ef, x, order, grid, tubelet, patch, m, steps, ref)
        a = auc(fractions, c)
        out[m] = {"auc": a, "random_mean": float(np.mean(random[m])), "random_std": float(np.std(random[m])),
                  "verdict": verdict(a, random[m], m), "curve": c.tolist()}
        out["fractions"] = fractions.tolist()
    return out
