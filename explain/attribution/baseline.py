"""The reference input that attribution methods remove information towards: a black clip.

Ultrasound outside the fan is black, so black means 'no echo here'. In model input space (echo
.preprocess.to_model_input: ImageNet-normalised; one channel uses the means of the ImageNet values)
black is -mean / std per channel, not 0 (0 is mid-grey).
"""
from __future__ import annotations

import torch

from echo.preprocess import GRAY_MEAN, GRAY_STD, IMAGENET_MEAN, IMAGENET_STD


def black_like(x: torch.Tensor) -> torch.Tensor:
    """A black clip in model input space, shaped like x (B, T, C, H, W), C in (1, 3)."""
    if x.ndim != 5 or x.shape[2] not in (1, 3):
        raise ValueError(f"Model input must be (B, T, C, H, W) with 1 or 3 channels; got {tuple(x.shape)}.")
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if x.shape[2] == 3 else (GRAY_MEAN, GRAY_STD)
    value = -torch.tensor(mean, dtype=x.dtype) / torch.tensor(std, dtype=x.dtype)   # (C,)
    return value.to(x.device).view(1, 1, -1, 1, 1).expand_as(x).clone()
