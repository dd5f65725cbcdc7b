"""One clip prepared for a model together with its ground-truth images, all aligned: the model
input, the grey frames it shows, the noise-free frames and the label masks, cropped to the same
sector, sampled at the same frames and resized to the same size (labels with nearest neighbour,
so no label is invented between two tissues)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from echo.clip import Clip
from echo.preprocess import crop_to_sector, prepare_frames, sample_indices, to_model_input


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
    """The clip's `frames` frames from `start` (at its own frame rate), sector-cropped, `size` px."""
    cropped = crop_to_sector(clip)
    idx = sample_indices(cropped.n_frames, cropped.fps, frames, None, start)
    x = to_model_input(cropped, frames=frames, size=size, start=start, crop_sector=False)

    def shown(images: np.ndarray) -> np.ndarray:
        return prepare_frames(Clip(images, cropped.fps), frames, size, start=start, crop_sector=False)

    truth = cropped.truth
    clean = shown(truth.clean) if truth is not None and truth.clean is not None else None
    labels = None
    if truth is not None and truth.labels is not None:
        labels = np.stack([cv2.resize(np.asarray(truth.labels[i], np.uint8), (size, size),
                                      interpolation=cv2.INTER_NEAREST) for i in idx])
    return Prepared(x, shown(cropped.gray()), clean, labels, idx)
