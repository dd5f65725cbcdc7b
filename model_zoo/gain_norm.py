"""Local gain normalisation of a model input: every pixel divided by its neighbourhood's mean
brightness (a Gaussian of `sigma` x the frame width, over the clip's time-mean frame), so a smooth
multiplicative change of gain over the image (depth attenuation, an acoustic shadow, a gain cut, a
TGC setting) cancels and what is left is the contrast of anatomy against its surroundings, as a
scanner's automatic gain compensation does. Inside a region much wider than the Gaussian the mean
level goes too: tissue comes out near LEVEL whatever its echogenicity, and only what is near-black
(blood, below about EPS) stays dark, so the encoder sees edges and cavities, not tissue brightness.

Why: the EchoJEPA benchmark's two degradations are exactly such fields (echo.degrade: exp(-rate d)
and 1 - s exp(-r^2 / 2 sigma^2)), and a probe trained on clean clips loses EF under them because the
features it reads shift (model_zoo/RECIPES.md, "Is EF still in a degraded clip?"). A recipe option
(Recipe.input_gain_norm, sigma as a share of the frame width; 0 = off): pretraining applies it to
every view (model_zoo.data), and a loaded model applies it to every clip its encoders read through
forward pre-hooks on their patch embeddings (attach), so probes, attention, trajectories and
the app all see what training saw.

Input and output: model input clips (B, T, C, H, W), ImageNet-normalised as echo.preprocess makes them
(C = 3, or 1 with the grey mean/std); differentiable (attribution flows through it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from echo.preprocess import GRAY_MEAN, GRAY_STD, IMAGENET_MEAN, IMAGENET_STD

LEVEL = 0.25        # the output's mean brightness in the fan (on the [0, 1] scale; phantom tissue ~0.2-0.4)
EPS = 0.02          # added to the local mean, so dark cavities and deep shadows are not blown up to noise
                    # (the default floor; a recipe may set its own: Recipe.input_gain_eps)
CEIL = 2.0          # bright reflectors are clipped at this (8x LEVEL)


def _stats(channels: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else (GRAY_MEAN, GRAY_STD)
    as_tensor = lambda v: torch.tensor(v, dtype=like.dtype, device=like.device)[None, None, :, None, None]
    return as_tensor(mean), as_tensor(std)


def _blur(image: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian blur with replicated edges. (B, 1, H, W) -> (B, 1, H, W)"""
    radius = max(1, int(3 * sigma_px))
    offsets = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma_px ** 2))
    kernel = kernel / kernel.sum()
    image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(image, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))


def blur_frames(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Every frame and channel of clips blurred by a Gaussian of sigma_px pixels (replicated edges); linear,
    so it commutes with the ImageNet normalisation. (B, T, C, H, W) -> (B, T, C, H, W)"""
    if sigma_px <= 0:
        raise ValueError(f"a blur needs sigma > 0 pixels; got {sigma_px}")
    b, t, c, h, w = x.shape
    return _blur(x.reshape(b * t * c, 1, h, w), sigma_px).reshape(b, t, c, h, w)


def gain_normalise(x: torch.Tensor, sigma: float, eps: float = EPS) -> torch.Tensor:
    """x (B, T, C, H, W) ImageNet-normalised -> the same layout and normalisation, gain-normalised in the
    frame (module docstring). Pixels outside the fan stay dark (0 over a small local mean); the
    fan's edges are brightened a little (their neighbourhood takes in the dark outside), the same in
    every clip. No fan mask: one whose edge follows the brightness flips dim cavities in and out of
    it as the gain changes (tried: raw pixels' val EF MAE +39% under the benchmark, +9% without).
    sigma: the Gaussian's width as a share of the frame width, > 0. eps: the floor added to the local mean, > 0
    (a smaller one cancels more of a deep shadow or a far field's attenuation, and lifts dark cavities more)."""
    if sigma <= 0:
        raise ValueError(f"gain normalisation needs sigma > 0 (a share of the frame width); got {sigma}")
    if eps <= 0:
        raise ValueError(f"gain normalisation needs a floor eps > 0 (on the [0, 1] scale); got {eps}")
    if x.ndim != 5 or x.shape[2] not in (1, 3):
        raise ValueError(f"gain normalisation takes clips (B, T, C, H, W) with 1 or 3 channels; got {tuple(x.shape)}")
    b, t, c, h, w = x.shape
    mean, std = _stats(c, x)
    grey = (x * std + mean).mean(2).clamp(0, 1)                         # (B, T, H, W) on [0, 1]
    local = _blur(grey.mean(1, keepdim=True), sigma * w)                # (B, 1, H, W) of the time mean
    out = (grey / (local + eps) * LEVEL).clamp(0, CEIL)                 # (B, T, H, W)
    return (out[:, :, None] - mean) / std                               # (B, T, C, H, W)


def attach(embeddings: list[nn.Module], sigma: float, eps: float = EPS) -> list:
    """Gain-normalise every clip the encoders' patch embeddings are called with (their first argument,
    or the pixel keyword), whichever path reaches them: encoder(x), a JEPA's masked context pass, an
    MAE's pretraining forward. -> the hook handles (`.remove()` each to detach).

    The MAE's pixel targets are outside the embedding: pretext attribution reads them from
    EncoderWrapper.seen (the normalised clip, as training did); model_zoo.mae.reconstruct maps the
    decoder's per-patch-normalised pixels back with the given clip's patch statistics, so a
    gain-normalised MAE's reconstruction is shown at the raw clip's brightness."""
    def before(module, args, kwargs):
        if args:
            return (gain_normalise(args[0], sigma, eps), *args[1:]), kwargs
        key = next(k for k in ("pixel_values_videos", "pixel_values") if k in kwargs)
        return args, {**kwargs, key: gain_normalise(kwargs[key], sigma, eps)}

    handles = []
    for m in embeddings:
        if getattr(m, "_gain_norm_hook", None) is not None:
            m._gain_norm_hook.remove()            # one normalisation per module, whoever attached last
        m._gain_norm_hook = m.register_forward_pre_hook(before, with_kwargs=True)
        handles.append(m._gain_norm_hook)
    return handles
