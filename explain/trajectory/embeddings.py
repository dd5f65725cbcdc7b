"""Per-frame embeddings: one model-length window centred on each frame, pooled to one vector.

Frame t's window holds F consecutive frames (F = the model's frames) centred on t, at the clip's own frame
rate. A window spanning a whole beat (frames beat / F apart, the time scale the shipped models learned) runs
past the ends of a short clip for most frames, and the repeated edge frames then dominate: on 4 held-out
64-frame phantom clips loop closure was 1.46 (JEPA) / 1.51 (MAE) with beat-long windows against 0.52 / 0.50
with consecutive frames. The first or last frame
is repeated where the window runs past an end of the clip, so every frame gets a point and none is
invented. The clip is prepared once (sector crop,
resize, normalisation) and the windows are gathered from it and run through the encoder in
batches. `stride` keeps every k-th frame (the last frame always kept) for speed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from echo.clip import Clip, ClipError
from echo.preprocess import to_model_input
from model_zoo.features import input_shape

@dataclass
class FrameEmbeddings:
    """frames (K,) clip frame indices the points belong to; embeddings (K, D) float32."""
    frames: np.ndarray
    embeddings: np.ndarray
    model: str = ""


def centre_frames(n_frames: int, stride: int = 1) -> np.ndarray:
    """(K,) every stride-th frame from 0, plus the last frame."""
    if n_frames < 1:
        raise ClipError("A clip without frames has no trajectory.")
    if stride < 1:
        raise ValueError(f"stride must be a positive whole number; got {stride}")
    return np.unique(np.append(np.arange(0, n_frames, stride), n_frames - 1))


def window_indices(n_frames: int, centres: np.ndarray, frames: int) -> np.ndarray:
    """(K, frames) consecutive source frames of the window centred on each centre, edge frames repeated."""
    offsets = np.arange(frames) - frames // 2                                   # (F,)
    return np.clip(np.asarray(centres)[:, None] + offsets[None, :], 0, n_frames - 1)


@torch.no_grad()
def frame_embeddings(wrapper, clip: Clip, stride: int = 1, batch: int = 16) -> FrameEmbeddings:
    """The token-mean embedding of the window centred on every stride-th frame of the clip. -> (K, D)
    The clip is cropped to its fan unless crop_to_sector made it (a degraded copy of a cropped clip
    keeps the clean clip's crop)."""
    frames, size = input_shape(wrapper)
    centres = centre_frames(clip.n_frames, stride)
    x = to_model_input(clip, frames=clip.n_frames, size=size)[0]  # (T, C, H, W)
    windows = torch.as_tensor(window_indices(clip.n_frames, centres, frames))  # (K, F)
    out = []
    for chunk in windows.split(batch):
        out.append(wrapper.tokens(x[chunk]).mean(1).float().cpu())           # (b, N, D) -> (b, D)
    return FrameEmbeddings(centres, torch.cat(out).numpy(), getattr(wrapper, "name", ""))
