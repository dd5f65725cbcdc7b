"""What the MAE makes of the tubelets it cannot see: masked input, its pixel reconstruction, the noisy
frames it was trained to reproduce and, on the phantom, the clean anatomy underneath the speckle.

Errors are measured on hidden pixels inside the scan sector, on a [0, 1] grey scale:
- mse_vs_noisy: against the frames themselves (speckle included), the MAE's own target;
- mse_vs_clean: against the noise-free image (phantom only);
- mse_noisy_vs_clean: how far the noisy frames are from the clean image (the speckle's own size);
- flat_vs_noisy, flat_vs_clean: the same errors of a fill with no model at all, each hidden box its true
  mean; the reconstruction borrows each box's true brightness (below), so this is what it is read against;
- hf_ratio: high-frequency energy (the image minus its Gaussian blur, sigma HF_SIGMA px; speckle
  grain lives there) of the reconstruction over that of the noisy frames, inside each hidden box
  shrunk by HF_MARGIN px on every side (3 sigma), away from the fan's edge, so the steps between boxes
  do not count: shrinking the hidden region as one (2 px) kept the seams between neighbouring hidden
  boxes, and boxes of flat values, no grain, scored 0.075. Near 1: the MAE draws speckle; near 0: it
  paints a smooth guess. hf_clean_ratio is the same for the clean image (what anatomy alone has).
With norm_pix_loss the decoder predicts each hidden patch normalised; its brightness and contrast
are borrowed from the true patch (VideoMAE's own visualisation), the pattern inside is the model's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import binary_erosion, gaussian_filter

from echo.clip import Clip
from echo.image_stats import sector_mask_of
from explain.latent_pixel.grid import TokenGrid, token_grid, token_pixels
from explain.latent_pixel.inputs import prepare
from model_zoo.mae import to_unit

HF_SIGMA = 2.0
HF_MARGIN = 6            # 3 x HF_SIGMA: a step between boxes leaves under 0.2% of itself this far in


@dataclass
class MAEView:
    """Frames (T, H, W) uint8: frames (input), masked (hidden tubelets black), reconstruction, clean
    (None off the phantom); hidden (T, H, W) bool pixels, hidden_tokens (N,) bool; errors dict."""
    frames: np.ndarray
    masked: np.ndarray
    reconstruction: np.ndarray
    clean: np.ndarray | None
    hidden: np.ndarray
    hidden_tokens: np.ndarray
    errors: dict


def high_frequency(images: np.ndarray) -> np.ndarray:
    """(T, H, W) float -> the part a Gaussian blur (sigma HF_SIGMA, per frame) removes."""
    return images - gaussian_filter(images, (0, HF_SIGMA, HF_SIGMA))


def box_interiors(hidden_tokens: np.ndarray, g: TokenGrid, margin: int = HF_MARGIN) -> np.ndarray:
    """(T, H, W) bool: the pixels of hidden tokens' boxes at least `margin` px inside each box's own edges."""
    core = np.zeros((g.patch, g.patch), bool)
    core[margin:g.patch - margin, margin:g.patch - margin] = True
    tiles = np.zeros((g.size, g.size), bool)
    tiles[:g.grid[1] * g.patch, :g.grid[2] * g.patch] = np.tile(core, (g.grid[1], g.grid[2]))
    return token_pixels(np.asarray(hidden_tokens, bool), g) & tiles[None]


def flat_fill(noisy: np.ndarray, hidden_tokens: np.ndarray, g: TokenGrid) -> np.ndarray:
    """(T, H, W) the noisy frames with each hidden box set to its own mean: the brightness the reconstruction
    borrows, and nothing drawn."""
    t, h, w = g.grid
    inside = noisy[:t * g.tubelet, :h * g.patch, :w * g.patch]
    means = inside.reshape(t, g.tubelet, h, g.patch, w, g.patch).mean((1, 3, 5)).ravel()     # (N,)
    return np.where(token_pixels(np.asarray(hidden_tokens, bool), g), token_pixels(means, g), noisy)


def reconstruction_errors(recon: np.ndarray, noisy: np.ndarray, clean: np.ndarray | None,
                          hidden: np.ndarray, sector: np.ndarray, interiors: np.ndarray,
                          flat: np.ndarray | None = None) -> dict:
    """The module docstring's numbers from (T, H, W) [0, 1] images and (T, H, W) bool masks: hidden pixels,
    the sector, the hidden boxes' interiors (box_interiors); flat: flat_fill's image, for its errors."""
    region = hidden & sector
    if not region.any():
        raise ValueError("no hidden pixel lies inside the scan sector")
    inner = interiors & np.stack([binary_erosion(s, iterations=HF_MARGIN) for s in sector])     # off the fan's edge

    def hf_energy(img: np.ndarray) -> float:
        return float((high_frequency(img)[inner] ** 2).mean())

    out = {"mse_vs_noisy": float(((recon - noisy)[region] ** 2).mean()),
           "hf_ratio": hf_energy(recon) / hf_energy(noisy) if inner.any() else float("nan")}
    if flat is not None:
        out["flat_vs_noisy"] = float(((flat - noisy)[region] ** 2).mean())
    if clean is not None:
        out.update(mse_vs_clean=float(((recon - clean)[region] ** 2).mean()),
                   mse_noisy_vs_clean=float(((noisy - clean)[region] ** 2).mean()),
                   hf_clean_ratio=hf_energy(clean) / hf_energy(noisy) if inner.any() else float("nan"))
        if flat is not None:
            out["flat_vs_clean"] = float(((flat - clean)[region] ** 2).mean())
    return out


def mae_view(wrapper, clip: Clip, hidden_tokens: np.ndarray, start: int = 0) -> MAEView:
    """Reconstruct the clip's hidden tubelets (hidden_tokens (N,) bool, True = hidden) with the MAE."""
    g = token_grid(wrapper)
    hidden_tokens = np.asarray(hidden_tokens, bool)
    if hidden_tokens.shape != (g.n_tokens,) or not hidden_tokens.any():
        raise ValueError(f"hidden_tokens must be ({g.n_tokens},) bool with at least one hidden token")
    p = prepare(clip, g.frames, g.size, start)
    recon = wrapper.reconstruct(p.x, torch.as_tensor(hidden_tokens)[None])    # (1, T, C, H, W) input space
    recon = to_unit(recon.float().cpu())[0].mean(1).clamp(0, 1).numpy()       # (T, H, W) in [0, 1]
    hidden = token_pixels(hidden_tokens, g)                                    # (T, H, W) bool
    noisy = p.grey.astype(np.float64) / 255
    clean = None if p.clean is None else p.clean.astype(np.float64) / 255
    sector = (p.labels > 0) if p.labels is not None else np.broadcast_to(sector_mask_of(p.grey), p.grey.shape)
    errors = reconstruction_errors(recon, noisy, clean, hidden, sector, box_interiors(hidden_tokens, g),
                                   flat_fill(noisy, hidden_tokens, g))
    errors["hidden_share"] = float(hidden_tokens.mean())
    masked = np.where(hidden, 0, p.grey).astype(np.uint8)
    return MAEView(p.grey, masked, np.rint(recon * 255).astype(np.uint8), p.clean, hidden, hidden_tokens, errors)
