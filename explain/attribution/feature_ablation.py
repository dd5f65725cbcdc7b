"""Captum FeatureAblation of the EF prediction with one feature per tubelet (feature mask = token ids).

Each tubelet in turn is set to black and the EF change recorded on all its pixels. With one tubelet
per feature this equals Occlusion with a one-tubelet window (the test checks it); the feature mask
also allows coarser groups: `cells` = (dt', dh, dw) tokens per feature.
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import FeatureAblation

from explain.attribution.baseline import black_like
from explain.maps import tubelet_ids


def group_mask(shape: tuple[int, ...], grid: tuple[int, int, int], tubelet: int, patch: int,
               cells: tuple[int, int, int] = (1, 1, 1)) -> torch.Tensor:
    """Feature id of every pixel, (1, T, 1, H, W) long: tokens grouped in (dt', dh, dw) blocks."""
    if len(cells) != 3 or min(cells) < 1:
        raise ValueError(f"cells must be three positive block sizes (dt', dh, dw); got {cells}.")
    t, h, w = grid
    ids = tubelet_ids(shape, grid, tubelet, patch)
    tt, hh, ww = ids // (h * w), ids // w % h, ids % w
    gh, gw = -(-h // cells[1]), -(-w // cells[2])
    return (tt // cells[0]) * gh * gw + (hh // cells[1]) * gw + ww // cells[2]


def n_features(grid: tuple[int, int, int], cells: tuple[int, int, int] = (1, 1, 1)) -> int:
    """How many features group_mask makes: the grid's tokens in (dt', dh, dw) blocks, the last ones smaller."""
    return int(np.prod([-(-g // c) for g, c in zip(grid, cells)]))


def feature_ablation(forward, x: torch.Tensor, grid: tuple[int, int, int], tubelet: int, patch: int,
                     cells: tuple[int, int, int] = (1, 1, 1), per_eval: int = 16) -> tuple[torch.Tensor, dict]:
    """-> (attribution (B, T, C, H, W), info {'features', 'cells'})."""
    mask = group_mask(x.shape, grid, tubelet, patch, cells).to(x.device).expand_as(x)
    attr = FeatureAblation(forward).attribute(x, baselines=black_like(x), feature_mask=mask,
                                              perturbations_per_eval=per_eval)
    return attr.detach(), {"features": int(mask.max()) + 1, "cells": list(cells)}
