"""One clip prepared for a model together with its ground-truth images, all aligned: the model
input, the grey frames it shows, the noise-free frames and the label masks, cropped to the same
sector, sampled at the same frames and resized to the same size (labels with nearest neighbour,
so no label is invented between two tissues)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from echo.clip import Clip
from explain.analysis.window import model_view


@dataclass
class Prepared:
    """x (1, T, C, H, W) model input; grey (T, H, W) uint8 what it shows; clean (T, H, W) uint8 or
    None; labels (T, H, W) uint8 or None (echo.anatomy ids); frames (T,) source frame indices."""
    x: torch.Tensor
    grey: np.ndarray
    clean: np.ndarray | None
    labels: np.ndarray | None
    frames: np.ndarray


def prepare(clip: Clip, frames: int, size: int, start: int = 0) -> Prepared:
    """The clip as the model sees it (explain.analysis.window.model_view: one heartbeat from `start`
    in `frames` frames, sector-cropped, `size` px), with its clean frames and labels aligned."""
    v = model_view(clip, frames, size, start)
    return Prepared(v.x, v.frames, v.clean, v.labels, v.indices)
