"""The speckle test: does an encoder's embedding move when only the speckle changes?

The same heart is rendered K times with fresh speckle: a phantom clip is fixed by its parameters
(echo.phantom.params: heart, motion, acquisition), and `PhantomParams.seed` seeds only the
renderer's random stream, which draws the scatterer field (speckle) and the tissue's fine texture;
geometry, motion, labels and phase do not depend on it (tests/test_explain_latent_pixel_speckle.py
checks this). Every draw of a heart is cropped to the fan found in its first (its own fan found afresh moved
the crop 3-4 px between draws of some hearts, about half the ratio). For each encoder, with e[h, k] the pooled
embedding of heart h under speckle draw k:
    within  = mean over hearts of the variance over draws (summed over dimensions, ddof 1)
    between = variance over hearts of the per-heart mean embedding (summed over dimensions, ddof 1)
    ratio   = within / between
Near 0: the embedding ignores speckle and tracks the heart; near or above 1: a new speckle draw
moves it as much as a different heart. (between also holds within / K of speckle noise, so with
pure noise the ratio is K, not infinity.) An untrained network of the same shape (UNTRAINED) gives the ratio
before any learning: what training moved, up or down, is read against it.
"""
from __future__ import annotations

import numpy as np
import torch

from echo.clip import Clip
from echo.preprocess import crop_to_sector, fan_to_crop, to_model_input
from model_zoo.data import render_beat
from model_zoo.features import input_shape

# The reference every trained encoder's ratio is read against: an untrained network of the same shape
# (model_zoo.features.random_encoder, the evaluation's untrained baseline), one draw
UNTRAINED, UNTRAINED_SEED = "untrained, shaped as {}", 0


def speckle_statistic(embeddings: np.ndarray) -> dict:
    """(hearts, draws, D) -> {'within', 'between', 'ratio'} (see the module docstring)."""
    e = np.asarray(embeddings, np.float64)
    if e.ndim != 3 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValueError(f"need (hearts >= 2, draws >= 2, D) embeddings; got shape {e.shape}")
    within = float(e.var(axis=1, ddof=1).sum(-1).mean())
    between = float(e.mean(axis=1).var(axis=0, ddof=1).sum())
    return {"within": within, "between": between, "ratio": within / between if between > 0 else float("inf")}


def speckle_seed(heart: int, draw: int) -> int:
    """The renderer seed of a heart's draw-th speckle (draw 0 is the heart's own clip)."""
    return heart if draw == 0 else 1_000_000_000 + heart * 1_000 + draw


def same_heart(heart: int, draws: int, population: str = "adult", frames: int = 16, size: int = 112) -> list[Clip]:
    """One heartbeat of heart `heart` in `frames` frames (as pretraining renders it), `draws` times
    with fresh speckle."""
    return [render_beat(heart, population, frames, size, speckle_seed(heart, k)) for k in range(draws)]


@torch.no_grad()
def speckle_embeddings(wrappers: dict, hearts: list[int], draws: int, population: str = "adult") -> dict[str, np.ndarray]:
    """Pooled (token mean) embeddings {name: (hearts, draws, D)}; each clip is rendered once and
    shown to every encoder (all must take the same input size)."""
    shapes = {input_shape(w) for w in wrappers.values()}
    if len(shapes) != 1:
        raise ValueError(f"the encoders take different inputs {sorted(shapes)}; test them separately")
    frames, size = shapes.pop()
    out = {name: [] for name in wrappers}
    for heart in hearts:
        clips = same_heart(heart, draws, population, frames, size)
        fan = fan_to_crop(clips[0])                  # one crop for every draw: only the speckle may differ
        x = to_model_input([crop_to_sector(c, fan) for c in clips], frames=frames, size=size)
        for name, w in wrappers.items():
            out[name].append(w.pooled(x).float().cpu().numpy())                # (draws, D)
    return {name: np.stack(v) for name, v in out.items()}


def speckle_test(wrappers: dict, hearts: list[int], draws: int = 4, population: str = "adult") -> dict[str, dict]:
    """{name: {'within', 'between', 'ratio'}} for each encoder, e.g. {'JEPA target': ..., 'JEPA
    context': model_zoo.load('jepa-small', encoder='context'), 'MAE': ...}."""
    return {name: speckle_statistic(e) for name, e in speckle_embeddings(wrappers, hearts, draws, population).items()}
