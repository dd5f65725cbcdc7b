"""The EchoJEPA preprint's attention figure, which is not a rollout: one layer's raw attention, in
the head whose attention is most peaked, shown as attention received or given.

- most peaked head: the lowest mean row entropy over queries (its queries look at fewest tokens);
- received: the column mean of that head, how much attention each token receives from all queries;
- given: the row of one query token, where that token looks (default query: the token that
  receives most, so the two views can be read together).
Kept beside the rollout so users can compare our maps with the publication's.
"""
from __future__ import annotations

import torch

from explain.maps import check_clips
from model_zoo.attention import AttentionRecorder

MODES = ("received", "given")


def most_peaked_head(a: torch.Tensor) -> torch.Tensor:
    """Per clip, the head with the lowest mean row entropy. a (B, heads, N, N) -> (B,) long"""
    entropy = -(a * a.clamp_min(1e-12).log()).sum(-1).mean(-1)          # (B, heads)
    return entropy.argmin(-1)


def head_view(a: torch.Tensor, mode: str = "received", query: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer's (B, heads, N, N) attention -> (map (B, N), head (B,), query (B,) or -1s)."""
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Expected one layer's (B, heads, N, N) attention; got {tuple(a.shape)}.")
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    n = a.shape[-1]
    if query is not None and not -n <= query < n:
        raise ValueError(f"Query token {query} out of range for {n} tokens.")
    head = most_peaked_head(a)                                           # (B,)
    h = a[torch.arange(a.shape[0]), head]                                # (B, N, N)
    received = h.mean(1)                                                 # (B, N)
    if mode == "received":
        return received, head, torch.full_like(head, -1)
    q = received.argmax(-1) if query is None else torch.full_like(head, query % n)   # (B,)
    return h[torch.arange(a.shape[0]), q], head, q


@torch.no_grad()
def paper_attention(wrapper, x: torch.Tensor, layer: int = -1, mode: str = "received",
                    query: int | None = None) -> tuple[torch.Tensor, dict]:
    """The figure mode on clips x (B, T, C, H, W): -> (map (B, N), {'layer', 'head', 'query'})."""
    check_clips(wrapper, x)
    with AttentionRecorder(wrapper, fuse_heads=None, layers=[layer]) as rec:
        wrapper.encoder(x.to(wrapper.device))
    values, head, q = head_view(rec.maps[0], mode, query)
    return values.cpu(), {"layer": rec.layers[0], "head": head.tolist(), "query": q.tolist()}
