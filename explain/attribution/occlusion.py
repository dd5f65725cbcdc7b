"""Captum Occlusion of the EF prediction with a window of exactly one tubelet.

On a (B, T, C, H, W) input the window is (tubelet, C, patch, patch) with the same strides, so each
window blacks out one token's pixels and nothing else; the attribution of every pixel of the
tubelet is EF(x) - EF(x with that tubelet black). N forward passes, `per_eval` at a time.
"""
from __future__ import annotations

import torch
from captum.attr import Occlusion

from explain.attribution.baseline import black_like


def occlusion(forward, x: torch.Tensor, tubelet: int, patch: int, per_eval: int = 16
              ) -> tuple[torch.Tensor, dict]:
    """-> (attribution (B, T, C, H, W), info {'window', 'strides'})."""
    window = (tubelet, x.shape[2], patch, patch)
    if x.shape[1] % tubelet or x.shape[3] % patch or x.shape[4] % patch:
        raise ValueError(f"Input {tuple(x.shape)} is not a whole number of {tubelet} x {patch} x {patch} tubelets.")
    attr = Occlusion(forward).attribute(x, sliding_window_shapes=window, strides=window,
                                        baselines=black_like(x), perturbations_per_eval=per_eval)
    return attr.detach(), {"window": list(window), "strides": list(window)}
