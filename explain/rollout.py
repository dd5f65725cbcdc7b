"""Attention rollout for encoders without a CLS token: how much each output token draws, through
every layer's attention and residual path, on each input token.

Per layer the heads are fused (mean | max | min), the weakest `discard_ratio` of each row dropped,
the identity mixed in for the residual path, A' = (1 - identity) A + identity I, and the rows
renormalised; the layers from `start_layer` on are multiplied, R = A'_L ... A'_start. Row i of R
says where output token i's information came from, so R stays row-stochastic. Read it out to one
map per clip with explain.readout.

`rollout` works on recorded maps (for tests and notebooks); `attention_rollout` folds each layer in
inside the attention hook, so only one (B, N, N) product is ever held.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from explain.maps import check_clips
from model_zoo.attention import FUSIONS, AttentionRecorder, RolloutSpec, check_fusion, rollout_step


def rollout(attentions: Sequence[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0,
            start_layer: int = 0, identity: float = 0.5) -> torch.Tensor:
    """Rollout of recorded attention maps, first layer first: each (B, heads, N, N), or (B, N, N)
    already fused. -> R (B, N, N), rows summing to 1."""
    check_fusion(head_fusion, allow_none=False)
    spec = RolloutSpec(discard_ratio, start_layer, identity)
    if not attentions:
        raise ValueError("No attention maps to roll out.")
    if start_layer >= len(attentions):
        raise ValueError(f"start_layer {start_layer} is past the {len(attentions)} layers given.")
    r = None
    for a in attentions[start_layer:]:
        if a.ndim not in (3, 4) or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"Attention maps must be (B, heads, N, N) or (B, N, N); got {tuple(a.shape)}.")
        step = rollout_step(FUSIONS[head_fusion](a) if a.ndim == 4 else a, spec)   # (B, N, N)
        r = step if r is None else step @ r
    return r


@torch.no_grad()
def rollout_with_tokens(wrapper, x: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0,
                        start_layer: int = 0, identity: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Rollout of a wrapped encoder on clips x (B, T, C, H, W), accumulated inside the hooks, and the
    same pass's output tokens. -> (R (B, N, N), tokens (B, N, D)) on the CPU."""
    check_fusion(head_fusion, allow_none=False)
    check_clips(wrapper, x)
    spec = RolloutSpec(discard_ratio, start_layer, identity)
    with AttentionRecorder(wrapper, fuse_heads=head_fusion, keep_maps=False, rollout=spec) as rec:
        tokens = wrapper.encoder(x.to(wrapper.device)).last_hidden_state          # (B, N, D)
    return rec.rollout.cpu(), tokens.float().cpu()


def attention_rollout(wrapper, x: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0,
                      start_layer: int = 0, identity: float = 0.5) -> torch.Tensor:
    """Rollout of a wrapped encoder on clips x (B, T, C, H, W). -> R (B, N, N) on the CPU."""
    return rollout_with_tokens(wrapper, x, head_fusion, discard_ratio, start_layer, identity)[0]
