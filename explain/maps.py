"""Between tokens and pixels: token index = t' * H'W' + h * W' + w over the grid (T', H', W'); token
(t', h, w) covers frames t' * tubelet .. t' * tubelet + tubelet - 1 and the patch x patch square at
row h * patch, column w * patch.

to_frames turns a per-token map into a per-frame heat map normalised over the whole clip (not per
frame, so quiet frames stay quiet); tubelet_ids and pixels_to_tokens go the other way for the
attribution methods, which work on input pixels.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def grid_of_wrapper(wrapper) -> tuple[tuple[int, int, int], int, int]:
    """(grid, tubelet, patch) of a wrapped encoder."""
    return tuple(wrapper.grid), wrapper.tubelet, wrapper.patch


def check_clips(wrapper, x: torch.Tensor, one: bool = False) -> None:
    """Refuse clips x that are not (B, T, C, H, W) at the model's frame count and size (one: B must be 1), naming
    the shape it needs: a rollout over another grid came back silently with the wrong number of tokens."""
    grid, tubelet, patch = grid_of_wrapper(wrapper)
    want = (grid[0] * tubelet, grid[1] * patch, grid[2] * patch)
    if x.ndim != 5 or (one and x.shape[0] != 1) or (x.shape[1], x.shape[3], x.shape[4]) != want:
        raise ValueError(f"{wrapper.name or 'The model'} needs {'one clip' if one else 'clips'} shaped "
                         f"({'1' if one else 'B'}, {want[0]}, C, {want[1]}, {want[2]}); got {tuple(x.shape)}.")


def token_volume(values, grid: tuple[int, int, int]) -> np.ndarray:
    """(N,) or (T', H', W') values -> (T', H', W') float32, checked against grid."""
    v = np.asarray(getattr(values, "values", values), np.float32)
    n = int(np.prod(grid))
    if v.shape not in ((n,), tuple(grid)):
        raise ValueError(f"A token map for grid {tuple(grid)} must be ({n},) or {tuple(grid)}; got {v.shape}.")
    return v.reshape(grid)


def normalise(m: np.ndarray) -> np.ndarray:
    """Min-max over the whole array to [0, 1] float32 (all zeros for a constant map)."""
    m = np.asarray(m, np.float32)
    lo, hi = float(m.min()), float(m.max())
    return np.zeros_like(m) if hi - lo <= 1e-12 * max(1.0, abs(hi)) else (m - lo) / (hi - lo)


def to_frames(values, grid: tuple[int, int, int], tubelet: int, shape: tuple[int, int, int],
              mode: str = "bilinear", scale: str = "minmax") -> np.ndarray:
    """A token map ((N,), (T', H', W') or a TokenMap) -> (T, H, W) float32 in [0, 1], normalised over
    the clip. Each time slot is resized to (H, W) ('bilinear' or 'nearest') and shown on the frames
    it covers: frame t shows slot floor(t * T' / T), i.e. each slot repeated `tubelet` times when
    T = T' * tubelet. scale 'minmax' stretches the clip's range to [0, 1] (for display); 'max'
    divides a non-negative map by its maximum, keeping shares of mass (for focus scores)."""
    if scale not in ("minmax", "max"):
        raise ValueError(f"Unknown scale {scale!r}: use 'minmax' or 'max'.")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"Unknown resize mode {mode!r}: use 'bilinear' or 'nearest'.")
    if tubelet < 1 or len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"tubelet must be >= 1 and shape a positive (T, H, W); got {tubelet}, {shape}.")
    g = torch.from_numpy(token_volume(values, grid))[:, None]             # (T', 1, H', W')
    kw = {"align_corners": False} if mode == "bilinear" else {}
    up = F.interpolate(g, size=tuple(shape[1:]), mode=mode, **kw)[:, 0]  # (T', H, W)
    slots = np.arange(shape[0]) * grid[0] // shape[0]                    # (T,)
    up = up.numpy()[slots]                                              # (T, H, W)
    if scale == "minmax":
        return normalise(up)
    if up.min() < 0:
        raise ValueError("scale='max' needs a non-negative map.")
    return up / up.max() if up.max() > 0 else up


def tubelet_ids(shape: tuple[int, ...], grid: tuple[int, int, int], tubelet: int, patch: int) -> torch.Tensor:
    """Token index of every pixel of a (B, T, C, H, W) input: (1, T, 1, H, W) long."""
    t, h, w = grid
    if len(shape) != 5 or tuple(shape[1:2]) + tuple(shape[3:]) != (t * tubelet, h * patch, w * patch):
        raise ValueError(f"Input {tuple(shape)} does not match grid {grid} x tubelet {tubelet} x patch {patch}: "
                         f"expected (B, {t * tubelet}, C, {h * patch}, {w * patch}).")
    ids = torch.arange(t * h * w).view(t, 1, h, 1, w, 1)
    ids = ids.expand(t, tubelet, h, patch, w, patch).reshape(t * tubelet, h * patch, w * patch)
    return ids[None, :, None]                                           # (1, T, 1, H, W)


def pixels_to_tokens(attr: torch.Tensor, grid: tuple[int, int, int], tubelet: int, patch: int) -> torch.Tensor:
    """Attribution per input pixel (B, T, C, H, W) -> per token (B, N): sum of |attr| over each
    tubelet's pixels and channels (magnitude, so opposite signs inside a tubelet do not cancel)."""
    ids = tubelet_ids(attr.shape, grid, tubelet, patch).expand(attr.shape[0], -1, attr.shape[2], -1, -1)
    out = torch.zeros(attr.shape[0], int(np.prod(grid)), dtype=torch.float32, device=attr.device)
    return out.scatter_add_(1, ids.flatten(1).to(attr.device), attr.detach().abs().float().flatten(1))


def tokens_to_pixels(mask: torch.Tensor, grid: tuple[int, int, int], tubelet: int, patch: int) -> torch.Tensor:
    """Per-token values (B, N) -> per pixel (B, T, 1, H, W), each tubelet's pixels set to its token's value."""
    t, h, w = grid
    ids = tubelet_ids((1, t * tubelet, 1, h * patch, w * patch), grid, tubelet, patch)  # (1, T, 1, H, W)
    return mask[:, ids[0, :, 0].to(mask.device)][:, :, None]            # (B, T, 1, H, W)
