"""How a clip becomes tokens, and what each model hides from itself while learning.

A token is one tubelet: `tubelet` frames x `patch` x `patch` pixels (2 x 16 x 16 for the shipped
models: 8 x 7 x 7 = 392 tokens from 16 frames of 112 px), ordered t' * H'W' + h * W' + w. The masks
are drawn exactly as in pretraining (model_zoo.masks, with the settings of the model's card where it
has them, the recipe defaults otherwise) from ONE seeded generator, JEPA's first then the MAE's, so
the same seed gives both models their masks for the same clip every time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explain.maps import tokens_to_pixels
from model_zoo.features import input_shape
from model_zoo.jepa import sample_jepa_masks
from model_zoo.masks import tube_masks
from model_zoo.recipes import recipe_from_card

GRID_COLOUR = (255, 200, 0)
HIDDEN_COLOUR = (40, 110, 255)


@dataclass(frozen=True)
class TokenGrid:
    """grid (T', H', W'); tubelet frames and patch pixels per token; frames and size of the input."""
    grid: tuple[int, int, int]
    tubelet: int
    patch: int
    frames: int
    size: int

    @property
    def n_tokens(self) -> int:
        return int(np.prod(self.grid))


def token_grid(wrapper) -> TokenGrid:
    """The model's token grid, from its config."""
    frames, size = input_shape(wrapper)
    size = size if isinstance(size, int) else size[0]
    return TokenGrid(tuple(wrapper.grid), wrapper.tubelet, wrapper.patch, int(frames), int(size))


@dataclass
class MaskSet:
    """jepa: [(context (N,) bool, target (N,) bool)] one pair per mask generator; mae: (N,) bool,
    True = hidden; grid (T', H', W'); seed."""
    jepa: list[tuple[np.ndarray, np.ndarray]]
    mae: np.ndarray
    grid: tuple[int, int, int]
    seed: int


def _bool(index: torch.Tensor, n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    out[index.numpy()] = True
    return out


def clip_masks(jepa_wrapper, mae_wrapper, seed: int = 0) -> MaskSet:
    """Both models' pretraining masks for one clip, from one generator seeded with `seed`. Either
    wrapper may be None (its settings then come from the recipe defaults); both must share a grid."""
    present = [w for w in (jepa_wrapper, mae_wrapper) if w is not None]
    if not present:
        raise ValueError("clip_masks needs at least one model")
    grids = {tuple(w.grid) for w in present}
    if len(grids) != 1:
        a, b = (f"{w.name or w.family} cuts a clip into a {'x'.join(map(str, w.grid))} grid "
                f"({token_grid(w).frames} frames x {token_grid(w).size} px)" for w in present)
        raise ValueError(f"{a}; {b}. This view hides the same tokens from both models, so it needs one grid: "
                         "load two models with the same input size, patch and tubelet (the frames box can match "
                         "their frame counts). The other views compare any pair.")
    grid = grids.pop()
    n = int(np.prod(grid))
    generator = torch.Generator().manual_seed(seed)
    pairs = sample_jepa_masks(recipe_from_card(getattr(jepa_wrapper, "card", None)), grid, 1, generator)
    ratio = recipe_from_card(getattr(mae_wrapper, "card", None)).mae_mask_ratio
    mae = tube_masks(1, grid, ratio, generator)[0].numpy()                     # (N,)
    return MaskSet([(_bool(c[0], n), _bool(t[0], n)) for c, t in pairs], mae, grid, seed)


def token_pixels(tokens: np.ndarray, g: TokenGrid) -> np.ndarray:
    """Per-token values (N,) spread over the pixels each token covers. -> (T, H, W)"""
    vol = tokens_to_pixels(torch.as_tensor(np.asarray(tokens))[None], g.grid, g.tubelet, g.patch)[0, :, 0].numpy()
    out = np.zeros((g.frames, g.size, g.size), vol.dtype)                   # sizes not a multiple: edge left 0
    out[:vol.shape[0], :vol.shape[1], :vol.shape[2]] = vol
    return out


def grid_image(frame: np.ndarray, patch: int, hidden: np.ndarray | None = None) -> np.ndarray:
    """(H, W) uint8 frame -> (H, W, 3) uint8 with the patch grid drawn and hidden pixels (H, W)
    bool tinted, for display."""
    rgb = np.repeat(np.asarray(frame, np.float32)[..., None], 3, -1)
    if hidden is not None:
        rgb[hidden] = 0.45 * rgb[hidden] + 0.55 * np.array(HIDDEN_COLOUR, np.float32)
    rgb[::patch, :] = GRID_COLOUR
    rgb[:, ::patch] = GRID_COLOUR
    return np.clip(rgb, 0, 255).astype(np.uint8)
