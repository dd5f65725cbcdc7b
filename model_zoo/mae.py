"""The MAE of VideoMAE on transformers' `VideoMAEForPreTraining`: tube masking, pixel decoder, MSE.

`VideoMAEForPreTraining` computes its own loss: it un-normalises the input with ImageNet mean/std
(what echo.preprocess gives, 3 channels), cuts (tubelet, patch, patch) patches, normalises each
patch per channel by its mean and unbiased std (norm_pix_loss) and takes the MSE on hidden patches.
The helpers here use the same patch layout, (t, h, w) inside a patch with channels last, to turn
predictions back into a clip.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import VideoMAEConfig, VideoMAEForPreTraining
from transformers.utils.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from model_zoo.masks import grid_of, tube_masks
from model_zoo.recipes import Recipe


def mae_config(r: Recipe) -> VideoMAEConfig:
    """VideoMAE pretraining config: encoder ends in a LayerNorm (no mean pooling), as the original."""
    return VideoMAEConfig(
        image_size=r.size, patch_size=r.patch, num_frames=r.frames, tubelet_size=r.tubelet,
        hidden_size=r.hidden, num_hidden_layers=r.depth, num_attention_heads=r.heads,
        intermediate_size=4 * r.hidden, decoder_hidden_size=r.dec_hidden,
        decoder_num_hidden_layers=r.dec_depth, decoder_num_attention_heads=r.dec_heads,
        decoder_intermediate_size=4 * r.dec_hidden, use_mean_pooling=False, norm_pix_loss=r.mae_norm_pix_loss,
        layer_norm_eps=1e-6,
    )


def _videomae_init(net: VideoMAEForPreTraining) -> None:
    """VideoMAE's init: xavier-uniform linear layers with zero bias, mask token ~ N(0, 0.02)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(net.mask_token, std=0.02)


class MAE(nn.Module):
    """VideoMAE pretraining; `net` (the full `VideoMAEForPreTraining`) is what ships. With
    recipe.acq_clean_targets it is a denoising MAE: each clip comes as two views, the jittered
    acquisition it reads and the clean one whose pixels it reconstructs (the pixel twin of the JEPA's
    clean targets)."""

    family = "mae"

    def __init__(self, recipe: Recipe, config: VideoMAEConfig | None = None):
        super().__init__()
        self.recipe = recipe
        self.views = 2 if recipe.acq_clean_targets else 1     # else the pixel targets are the input's own
        if recipe.acq_clean_targets and recipe.jepa_target_blur:
            raise ValueError("jepa_target_blur blurs the JEPA's target view; a denoising MAE's targets are the clean "
                             "clip's pixels: leave it at 0 for the MAE")
        self.net = VideoMAEForPreTraining._from_config(config or mae_config(recipe), attn_implementation="sdpa")
        _videomae_init(self.net)
        if recipe.freeze_patch_embed:
            self.net.videomae.embeddings.patch_embeddings.requires_grad_(False)
        self.grid = grid_of(self.net.config)

    def trainable(self) -> list[tuple[str, nn.Parameter]]:
        return list(self.net.named_parameters())

    def sample_masks(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        return tube_masks(batch, self.grid, self.recipe.mae_mask_ratio, generator)

    def loss(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """VideoMAE's MSE on the hidden tubelets (norm-pix or plain pixels, as the config says).
        x (B, T, C, H, W), or (B, 2, T, C, H, W): the view read and the view whose pixels are the
        targets; mask (B, N) True = hidden."""
        if x.ndim == 5:
            read = target = x
        elif x.shape[1] == 2:
            read, target = x[:, 0], x[:, 1]
        else:
            raise ValueError(f"an MAE takes one view or two (input, targets) of each clip; got {x.shape[1]}")
        logits = self.net(read, bool_masked_pos=mask).logits                    # (B, Nm, ts * p * p * C)
        return nn.functional.mse_loss(logits, pixel_targets(self.net.config, target, mask)), {}

    def after_step(self, step: int, total: int) -> None:
        """Nothing to update outside the optimiser."""


def _imagenet(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_DEFAULT_MEAN, dtype=x.dtype, device=x.device)[None, None, :, None, None]
    std = torch.tensor(IMAGENET_DEFAULT_STD, dtype=x.dtype, device=x.device)[None, None, :, None, None]
    return mean, std


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Model input back to [0, 1] pixels, as VideoMAEForPreTraining does (3 channels only)."""
    if x.shape[2] != 3:
        return x
    mean, std = _imagenet(x)
    return x * std + mean


def from_unit(pixels: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels to model input space; inverse of to_unit."""
    if pixels.shape[2] != 3:
        return pixels
    mean, std = _imagenet(pixels)
    return (pixels - mean) / std


def pixel_targets(config: VideoMAEConfig, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The hidden patches' pixels as VideoMAEForPreTraining computes its labels (norm-pix per patch and
    channel when the config says), from clip x (B, T, C, H, W) in model input space, kept in the graph (the
    pretext-loss attribution differentiates through them). -> (B, Nm, P * C)"""
    if not config.norm_pix_loss and x.shape[2] != 3:
        raise ValueError("plain-pixel targets need 3 channels: VideoMAE takes them back to [0, 1] with ImageNet's "
                         f"mean and std; got {x.shape[2]}")
    patches = patchify(to_unit(x), config.tubelet_size, config.patch_size)   # (B, N, P, C)
    if config.norm_pix_loss:
        std = patches.var(dim=-2, unbiased=True, keepdim=True).clamp_min(1e-12).sqrt()   # finite grad on flat patches
        patches = (patches - patches.mean(dim=-2, keepdim=True)) / (std + 1e-6)
    patches = patches.flatten(2)                                            # (B, N, P * C)
    return patches[mask].reshape(x.shape[0], -1, patches.shape[-1])


def patchify(video: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, N, tubelet * patch * patch, C), VideoMAEForPreTraining's layout."""
    b, t, c, h, w = video.shape
    v = video.reshape(b, t // tubelet, tubelet, c, h // patch, patch, w // patch, patch)
    v = v.permute(0, 1, 4, 6, 2, 5, 7, 3)                  # (B, T', H', W', ts, p, p, C)
    return v.reshape(b, -1, tubelet * patch * patch, c)


def unpatchify(patches: torch.Tensor, grid: tuple[int, int, int], tubelet: int, patch: int) -> torch.Tensor:
    """(B, N, tubelet * patch * patch, C) -> (B, T, C, H, W); inverse of patchify."""
    b, c = patches.shape[0], patches.shape[-1]
    t, h, w = grid
    v = patches.reshape(b, t, h, w, tubelet, patch, patch, c)
    v = v.permute(0, 1, 4, 7, 2, 5, 3, 6)                  # (B, T', ts, C, H', p, W', p)
    return v.reshape(b, t * tubelet, c, h * patch, w * patch)


@torch.no_grad()
def reconstruct(net: VideoMAEForPreTraining, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The clip with its hidden tubelets replaced by the decoder's pixels, in model input space.

    x (B, T, C, H, W) model input; mask (B, N) bool, True = hidden, the same count per clip.
    Returns (B, T, C, H, W): visible tubelets copied from x, hidden ones predicted. With
    norm_pix_loss the decoder predicts per-patch normalised pixels, which carry no brightness or
    contrast; they are mapped back with the true patch's mean and std (VideoMAE's visualisation).
    """
    c = net.config
    logits = net(x, bool_masked_pos=mask).logits            # (B, Nm, ts * p * p * C)
    pixels = patchify(to_unit(x), c.tubelet_size, c.patch_size)  # (B, N, ts * p * p, C)
    pred = logits.reshape(x.shape[0], -1, pixels.shape[2], pixels.shape[3])  # (B, Nm, P, C)
    if c.norm_pix_loss:
        ref = pixels[mask].reshape(pred.shape)
        pred = pred * (ref.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6) + ref.mean(dim=-2, keepdim=True)
    pixels[mask] = pred.reshape(-1, *pixels.shape[2:]).to(pixels.dtype)
    return from_unit(unpatchify(pixels, grid_of(c), c.tubelet_size, c.patch_size))
