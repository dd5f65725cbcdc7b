"""Read a rollout R (B, N, N) out to one value per input token: which tokens the model's output draws on.

With no CLS token there is no single row to read. Three read-outs:
- probe: r = a_probe @ R, the EF probe's query attention over output tokens carried back through
  the layers (the question the probe asks of the encoder); a probe that runs self-attention blocks
  before its query (a V-JEPA 2 probe of depth > 1) has no such attention, and ProbeHead.attention
  refuses it rather than give weights over tokens its blocks have mixed;
- mean: the column mean of R, what the mean-pooled embedding draws on; drop_self removes the
  diagonal first, since the residual path gives every token a large share of itself;
- token: row q of R, where one output token's information came from.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def _check(r: torch.Tensor) -> None:
    if r.ndim != 3 or r.shape[1] != r.shape[2]:
        raise ValueError(f"A rollout must be (B, N, N); got {tuple(r.shape)}.")


def probe_readout(r: torch.Tensor, probe_attention: torch.Tensor | None) -> torch.Tensor:
    """a_probe @ R. probe_attention (B, N), rows summing to 1. -> (B, N), summing to 1."""
    _check(r)
    if probe_attention is None:
        raise ValueError("The probe read-out needs an EF probe, and this model has none: use the "
                         "'mean' or 'token' read-out.")
    if probe_attention.shape != r.shape[:2]:
        raise ValueError(f"Probe attention {tuple(probe_attention.shape)} does not match the rollout's "
                         f"(B, N) = {tuple(r.shape[:2])}.")
    return torch.einsum("bn,bnm->bm", probe_attention.to(r), r)        # (B, N)


def mean_readout(r: torch.Tensor, drop_self: bool = False) -> torch.Tensor:
    """Column mean of R (optionally without the diagonal). -> (B, N)"""
    _check(r)
    if drop_self:
        r = r * (1.0 - torch.eye(r.shape[-1], dtype=r.dtype, device=r.device))
    return r.mean(1)


def token_readout(r: torch.Tensor, query: int | Sequence[int]) -> torch.Tensor:
    """Row q of R (the mean of the rows when several queries are given). -> (B, N)"""
    _check(r)
    q = [query] if isinstance(query, int) else list(query)
    n = r.shape[1]
    if not q or any(not -n <= i < n for i in q):
        raise ValueError(f"Query token(s) {query} out of range for {n} tokens.")
    return r[:, q].mean(1)

