"""The JEPA of V-JEPA 2 on transformers' VJEPA2 modules: context encoder, EMA target encoder, predictor.

transformers' `VJEPA2Model.forward` runs its encoder over the whole clip and only then selects the
context tokens, which would let hidden tubelets leak into the context. Here the context encoder
embeds the clip, keeps the visible tokens, and runs its layers on those alone (their RoPE positions
passed as `position_mask`), so hidden tubelets never enter its attention.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import VJEPA2Config, VJEPA2Model
from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder, VJEPA2Predictor

from model_zoo.beat import beat_deviation
from model_zoo.ema import ema_update, momentum_at
from model_zoo.masks import gather_tokens, grid_of, multiblock_masks, time_span_masks
from model_zoo.recipes import Recipe


def jepa_config(r: Recipe) -> VJEPA2Config:
    return VJEPA2Config(
        crop_size=r.size, frames_per_clip=r.frames, patch_size=r.patch, tubelet_size=r.tubelet,
        hidden_size=r.hidden, num_hidden_layers=r.depth, num_attention_heads=r.heads,
        pred_hidden_size=r.pred_hidden, pred_num_hidden_layers=r.pred_depth,
        pred_num_attention_heads=r.pred_heads, pred_num_mask_tokens=len(r.jepa_masks) + (r.jepa_time_span > 0),
    )


def _rescale_blocks(layers: nn.ModuleList) -> None:
    """V-JEPA's init: each block's output projections scaled by 1 / sqrt(2 * depth index)."""
    with torch.no_grad():
        for i, layer in enumerate(layers, 1):
            layer.attention.proj.weight.div_(math.sqrt(2.0 * i))
            layer.mlp.fc2.weight.div_(math.sqrt(2.0 * i))


def encode_context(encoder: VJEPA2Encoder, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Encoder output for the kept tokens only. x (B, T, C, H, W), keep (B, K) -> (B, K, D)"""
    h = gather_tokens(encoder.embeddings(x), keep)          # (B, K, D)
    for layer in encoder.layer:
        h = layer(h, keep)[0]                               # RoPE at the kept positions
    return encoder.layernorm(h)


def target_embeddings(encoder: VJEPA2Encoder, x: torch.Tensor, n_layers: int = 1
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer-normed regression targets for every token, and the encoder's output they come from.

    n_layers = 1: the encoder output, layer-normed (V-JEPA). n_layers = K > 1: the mean of the last K
    block outputs, each layer-normed (the last one after the encoder's final norm), layer-normed again
    (data2vec's top-K targets). x (B, T, C, H, W) -> targets (B, N, D), output (B, N, D)
    """
    if not 1 <= n_layers <= len(encoder.layer):
        raise ValueError(f"jepa_target_layers must be 1..{len(encoder.layer)} (the encoder's blocks); got {n_layers}")
    h = encoder.embeddings(x)                                           # (B, N, D)
    blocks = []
    for layer in encoder.layer:
        h = layer(h, None)[0]
        blocks.append(h)
    out = encoder.layernorm(h)                                          # (B, N, D), as encoder(x)
    d = out.shape[-1]
    if n_layers == 1:
        return F.layer_norm(out, (d,)), out
    tops = [*blocks[len(blocks) - n_layers:-1], out]                    # K x (B, N, D)
    mean = torch.stack([F.layer_norm(t, (d,)) for t in tops]).mean(0)   # (B, N, D)
    return F.layer_norm(mean, (d,)), out


def emphasise_beat(targets: torch.Tensor, t_slots: int, weight: float) -> torch.Tensor:
    """targets + weight * (targets - their mean over the time slots at each place): the part that changes
    over the clip weighs (1 + weight) times, the static part once. Tokens ordered t' * H'W' + place.
    (B, N, D) -> (B, N, D)"""
    if weight == 0:
        return targets
    return targets + weight * beat_deviation(targets, t_slots).flatten(1, 2)   # (B, N, D)


def views_of(recipe: Recipe) -> int:
    """Views of each pretraining clip a JEPA takes: two acquisitions (context, targets) with acquisition
    jitter, else one."""
    return 2 if recipe.acq_jitter > 0 else 1


def target_view(x: torch.Tensor) -> torch.Tensor:
    """The targets' view of a batch: (B, 2, T, C, H, W) -> (B, T, C, H, W); one view is its own."""
    return x[:, 1] if x.ndim == 6 else x


def sample_jepa_masks(recipe: Recipe, grid: tuple[int, int, int], batch: int, generator: torch.Generator
                      ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One (context (B, Kc), target (B, Kt)) index pair per mask generator of the recipe, in order (the
    predictor's mask token k belongs to generator k): multi-block, then the time span if any."""
    masks = multiblock_masks(batch, grid, recipe.jepa_masks, recipe.jepa_aspect, generator)
    if recipe.jepa_time_span > 0:
        masks.append(time_span_masks(batch, grid, recipe.jepa_time_span, generator))
    return masks


def predict(predictor: VJEPA2Predictor, context: torch.Tensor, context_idx: torch.Tensor,
            target_idx: torch.Tensor, mask_index: int = 0) -> torch.Tensor:
    """Predicted embeddings at target_idx from context tokens. (B, Kc, D) -> (B, Kt, D)

    The steps of `VJEPA2Predictor.forward`, taking context tokens already selected and choosing the
    mask token per mask generator (`mask_index`), as V-JEPA does.
    """
    h, pos = predictor.embeddings(context, [context_idx], [target_idx], mask_index=mask_index)
    order = torch.argsort(pos, dim=1)                       # (B, Kc + Kt)
    h, pos = predictor.sort_tokens(h, pos, order)
    for layer in predictor.layer:
        h = layer(h, pos)[0]
    h = predictor.unsort_tokens(predictor.layernorm(h), order)[:, context.shape[1]:]  # (B, Kt, Dp)
    return predictor.proj(h)                                # (B, Kt, D)


class JEPA(nn.Module):
    """V-JEPA 2 pretraining: L1 between predicted and target embeddings of multi-block-masked tokens.

    `net` is a `VJEPA2Model` whose encoder is the EMA target encoder and whose predictor is trained:
    exactly what ships. The context encoder is trained by gradient (all of it but the patch embedding
    when the recipe freezes that) and is a separate copy.
    """

    family = "jepa"

    def __init__(self, recipe: Recipe, config: VJEPA2Config | None = None):
        super().__init__()
        self.recipe = recipe
        self.net = VJEPA2Model._from_config(config or jepa_config(recipe), attn_implementation="sdpa")
        _rescale_blocks(self.net.encoder.layer)
        _rescale_blocks(self.net.predictor.layer)
        if recipe.jepa_motion_weight < 0:
            raise ValueError(f"jepa_motion_weight must be >= 0; got {recipe.jepa_motion_weight}")
        var_on = recipe.jepa_var_weight > 0
        if recipe.jepa_var_weight < 0 or (var_on and (recipe.jepa_var_gamma <= 0 or recipe.batch < 2)):
            raise ValueError("the variance term needs jepa_var_weight >= 0 and, when on, jepa_var_gamma > 0 and a "
                             f"batch of 2 or more; got weight {recipe.jepa_var_weight}, gamma "
                             f"{recipe.jepa_var_gamma}, batch {recipe.batch}")
        if recipe.jepa_invariance_weight < 0:
            raise ValueError(f"jepa_invariance_weight must be >= 0; got {recipe.jepa_invariance_weight}")
        if recipe.jepa_readout not in ("target", "context"):
            raise ValueError(f"jepa_readout must be 'target' or 'context'; got {recipe.jepa_readout!r}")
        self.views = views_of(recipe)
        self.context_encoder = copy.deepcopy(self.net.encoder)
        self.net.encoder.requires_grad_(False)
        if recipe.freeze_patch_embed:
            self.context_encoder.embeddings.patch_embeddings.requires_grad_(False)
        self.grid = grid_of(self.net.config)

    def trainable(self) -> list[tuple[str, nn.Parameter]]:
        return [(f"context_encoder.{n}", p) for n, p in self.context_encoder.named_parameters()] + \
               [(f"predictor.{n}", p) for n, p in self.net.predictor.named_parameters()]

    def sample_masks(self, batch: int, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return sample_jepa_masks(self.recipe, self.grid, batch, generator)

    def loss(self, x: torch.Tensor, masks: list[tuple[torch.Tensor, torch.Tensor]]
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean over mask generators of L1(predicted, layer-normed target) at the target tokens (targets
        from the last `jepa_target_layers` blocks, centred over the batch per token position when the
        recipe says so, their beat weighted by jepa_motion_weight), plus the recipe's variance and invariance
        terms if any.
        x (B, T, C, H, W), or (B, 2, T, C, H, W): two acquisitions of each clip, the context from the
        first, targets the second."""
        if x.ndim == 6 and x.shape[1] != 2:
            raise ValueError(f"a JEPA takes one view or two (context, targets) of each clip; got {x.shape[1]}")
        target_x, x = target_view(x), (x[:, 0] if x.ndim == 6 else x)
        with torch.no_grad():
            targets, raw = target_embeddings(self.net.encoder, target_x, self.recipe.jepa_target_layers)
            if self.recipe.jepa_center_targets:
                targets = targets - targets.mean(0, keepdim=True)        # what differs between clips
            targets = emphasise_beat(targets, self.grid[0], self.recipe.jepa_motion_weight)
        losses, invariances = [], []
        for k, (ctx, tgt) in enumerate(masks):
            z = encode_context(self.context_encoder, x, ctx)             # (B, Kc, D)
            pred = predict(self.net.predictor, z, ctx, tgt, mask_index=k)  # (B, Kt, D)
            losses.append((pred - gather_tokens(targets, tgt)).abs().mean())
            if self.recipe.jepa_invariance_weight > 0:                   # the read view against the clean one
                invariances.append((z - gather_tokens(raw, ctx)).abs().mean())
        stats = collapse_stats(raw)
        loss = torch.stack(losses).mean()
        if self.recipe.jepa_invariance_weight > 0:
            invariance = torch.stack(invariances).mean()
            stats["invariance"] = invariance.item()
            loss = loss + self.recipe.jepa_invariance_weight * invariance
        if self.recipe.jepa_var_weight > 0:
            # every token of every clip (one more context pass, about +80% a step): a spread measured on
            # each clip's own context, or on one shared context, was paid by where the context lay (the
            # hinge fell to zero within 50 steps both ways while the targets' clip std stayed at 0.1)
            every = self.context_encoder(x).last_hidden_state            # (B, N, D)
            hinge = variance_hinge(every, self.recipe.jepa_var_gamma)
            stats["var_hinge"] = hinge.item()
            loss = loss + self.recipe.jepa_var_weight * hinge
        return loss, stats

    def after_step(self, step: int, total: int) -> None:
        """EMA update of the target encoder after optimiser step number `step` (1-based)."""
        ema_update(self.net.encoder, self.context_encoder, momentum_at(step, total, *self.recipe.ema))


def clip_spread(h: torch.Tensor) -> torch.Tensor:
    """Per-dimension std over the batch of each clip's mean token. h (B, N, D) -> (D,)"""
    return h.mean(1).std(0)


def variance_hinge(z: torch.Tensor, gamma: float) -> torch.Tensor:
    """VICReg's variance term on clip embeddings: mean over dims of relu(gamma - clip_spread) of tokens
    layer-normed without a gain (a larger output scale cannot pay it). Every clip's tokens must sit at
    the same places, or the spread is paid by where each clip was seen, not by what it holds.
    z (B, K, D) -> scalar"""
    if z.shape[0] < 2:
        raise ValueError("the variance term needs at least 2 clips in a batch")
    return F.relu(gamma - clip_spread(F.layer_norm(z, z.shape[-1:]))).mean()


@torch.no_grad()
def collapse_stats(h: torch.Tensor) -> dict[str, float]:
    """Per-dimension std of target embeddings over the batch, averaged over dimensions.

    token_std: over all B*N tokens; clip_std: over the B token-averaged clip embeddings. A collapsed
    encoder maps everything to one vector and both go to 0. h (B, N, D).
    """
    h = h.float()
    return {"token_std": h.flatten(0, 1).std(0).mean().item(), "clip_std": clip_spread(h).mean().item()}
