"""EF probes on a frozen encoder: an attentive probe over all tokens and a ridge probe on pooled tokens.

The attentive probe is V-JEPA's AttentivePooler with one query and one cross-attention block,
then a linear head (AttentiveClassifier): the query attends over layer-normed tokens, the result
goes through the block's residual MLP, and the head reads EF. EF targets are z-scored with the mean
and std of the training split, kept in the probe so it predicts EF in % on its own.

A converted V-JEPA 2 / EchoJEPA probe of depth > 1 (their evaluations use 4) first runs depth - 1
self-attention blocks (ProbeBlock) over the tokens, then the same cross-attention: its query then
weighs tokens the blocks have already mixed, so `attention` refuses it (there is no weight per
encoder token to read a rollout out with). Our own probes (those trained here, the shipped ones) have
none, and without blocks a probe computes and stores only what is described below.

With a single query, q . (W_k x_n) = (W_k^T q) . x_n and sum_n a_n W_v x_n = W_v sum_n a_n x_n, so
keys and values are never computed per token: a forward pass costs O(N D heads) instead of
O(N D^2), which makes training on pre-extracted tokens cheap. The function is exactly standard
multi-head cross-attention over LayerNorm(tokens): the key bias and the norm's shift only add a
constant per head to the scores, which softmax removes (so there is no key bias), and the norm's
scale and shift are applied to the query side and the attended values, so no gradient the size
of the tokens is ever formed.

The evaluation's beat view (BeatProbe) is the same head reading each token beside its change over the
beat (model_zoo.probe_inputs.BeatInputs), with its input statistics kept as buffers.

Training them: model_zoo.probe_fit. Saving and loading them beside their encoder: model_zoo.probe_io.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model_zoo.probe_inputs import BeatInputs


def probe_heads(dim: int, most: int = 4) -> int:
    """The most attention heads, at most `most`, that split dim evenly."""
    return max(h for h in range(1, most + 1) if dim % h == 0)


MAX_BLOCKS = 16     # self-attention blocks a probe may run before its query (V-JEPA 2's evaluations use 3)


class ProbeBlock(nn.Module):
    """One self-attention block that V-JEPA 2's AttentivePooler (depth > 1) runs over the tokens before its
    query (src/models/utils/modules.py Block, qkv_bias=True, default LayerNorm and GELU): pre-norm,
    x + proj(attention(qkv(norm1(x)))), then x + fc2(GELU(fc1(norm2(x)))). Submodules carry upstream's names,
    so `blocks.0.attn.qkv.weight` here is `pooler.blocks.0.attn.qkv.weight` there. (B, N, D) -> (B, N, D)"""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.ModuleDict({"qkv": nn.Linear(dim, 3 * dim), "proj": nn.Linear(dim, dim)})
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(OrderedDict(fc1=nn.Linear(dim, hidden), act=nn.GELU(), fc2=nn.Linear(hidden, dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.attn["qkv"](self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads)  # (B, N, 3, H, dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                                       # each (B, H, N, dh)
        y = F.scaled_dot_product_attention(q, k, v)                                # (B, H, N, dh), as upstream
        x = x + self.attn["proj"](y.transpose(1, 2).reshape(b, n, d))              # (B, N, D)
        return x + self.mlp(self.norm2(x))


class ProbeHead(nn.Module):
    """Attentive EF probe: tokens (B, N, D) -> z-scored EF (B,); `ef` gives EF in %, `attention` the
    query's attention over tokens (B, N), the a_probe that reads out attention rollout. blocks: self-attention
    blocks run over the tokens before the query (a converted V-JEPA 2 probe of depth blocks + 1; ours have 0)."""

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: float = 4.0, ef_mean: float = 0.0,
                 ef_std: float = 1.0, blocks: int = 0):
        super().__init__()
        if not 0 <= blocks <= MAX_BLOCKS:
            raise ValueError(f"{blocks} self-attention blocks: a probe runs 0 to {MAX_BLOCKS} before its query")
        if dim % heads:
            raise ValueError(f"{heads} heads do not split {dim} dimensions evenly")
        self.dim, self.heads, self.head_dim, self.mlp_ratio = dim, heads, dim // heads, mlp_ratio
        self.query = nn.Parameter(torch.zeros(1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.norm_tokens = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_query = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.head = nn.Linear(dim, 1)
        self.register_buffer("ef_mean", torch.tensor(float(ef_mean)))
        self.register_buffer("ef_std", torch.tensor(float(ef_std)))
        # last, so a probe without blocks draws the same random numbers and holds the same tensors as before
        self.blocks = nn.ModuleList(ProbeBlock(dim, heads, mlp_ratio) for _ in range(blocks))

    def config(self) -> dict:
        """What rebuilds it (probe.json): dim, heads, mlp_ratio, and blocks where it has any."""
        return {"dim": self.dim, "heads": self.heads, "mlp_ratio": self.mlp_ratio,
                **({"blocks": len(self.blocks)} if self.blocks else {})}

    @property
    def attends_to_tokens(self) -> bool:
        """Whether the query attends to the tokens it is given (no self-attention blocks before it), so that
        `attention` is a weight per input token; False for a V-JEPA 2 probe of depth > 1."""
        return not self.blocks

    def to_z(self, ef: torch.Tensor) -> torch.Tensor:
        return (ef - self.ef_mean) / self.ef_std

    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.ef_std + self.ef_mean

    def _attend(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (per-head values (B, H, D) weighted by attention, attention (B, H, N) over the blocks' output)."""
        norm = self.norm_tokens
        x = tokens.to(self.query.dtype)                                            # (B, N, D)
        for block in self.blocks:                                                  # none in our own probes
            x = block(x)                                                           # (B, N, D)
        x = F.layer_norm(x, (self.dim,), eps=norm.eps)                             # (B, N, D), affine folded below
        q = self.q(self.query).view(self.heads, self.head_dim)                     # (H, dh)
        u = torch.einsum("hd,hdc->hc", q, self.k.weight.view(self.heads, self.head_dim, self.dim))  # (H, D)
        a = (torch.einsum("bnc,hc->bhn", x, u * norm.weight) / math.sqrt(self.head_dim)).softmax(-1)  # (B, H, N)
        pooled = torch.einsum("bhn,bnc->bhc", a, x) * norm.weight + norm.bias      # (B, H, D) = sum_n a_n LN(x_n)
        return pooled, a

    def attention(self, tokens: torch.Tensor) -> torch.Tensor:
        """Query attention over tokens, mean over heads; each row sums to 1. (B, N, D) -> (B, N)
        Refused (ValueError) for a probe with self-attention blocks: its query weighs the blocks' mixtures of
        the tokens, not the tokens, and carrying it back through them is a rollout this method cannot choose."""
        if self.blocks:
            raise ValueError(f"This EF probe runs {len(self.blocks)} self-attention block(s) over the tokens before "
                             "its query (a V-JEPA 2 probe of depth > 1), so its query weighs tokens those blocks have "
                             "already mixed, not the encoder's: it has no attention per token, and the probe read-out "
                             "(or pooling by the probe) would be wrong. Use the 'mean' or 'token' read-out; its EF "
                             "and the EF attributions work.")
        return self._attend(tokens)[1].mean(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> z-scored EF (B,)"""
        pooled, _ = self._attend(tokens)                                           # (B, H, D)
        wv = self.v.weight.view(self.heads, self.head_dim, self.dim)               # (H, dh, D)
        values = torch.einsum("bhc,hdc->bhd", pooled, wv) + self.v.bias.view(self.heads, self.head_dim)
        h = self.query + self.proj(values.flatten(1))                              # (B, D)
        h = h + self.mlp(self.norm_query(h))
        return self.head(h).squeeze(-1)

    def ef(self, tokens: torch.Tensor) -> torch.Tensor:
        """EF in %. (B, N, D) -> (B,)"""
        return self.from_z(self(tokens))


class BeatProbe(nn.Module):
    """The beat view as one module: tokens (B, N, D) -> BeatInputs (B, N, 2D) -> attentive probe -> EF.
    Trained as the evaluation trains it (the head on the inputs' output), so it predicts from tokens alone."""

    def __init__(self, inputs: BeatInputs, head: ProbeHead):
        super().__init__()
        self.inputs, self.head = inputs, head

    @property
    def ef_mean(self) -> torch.Tensor:
        """The head's training-split EF mean (its device is the probe's)."""
        return self.head.ef_mean

    @property
    def ef_std(self) -> torch.Tensor:
        return self.head.ef_std

    def config(self) -> dict:
        return {**self.head.config(), "t_slots": self.inputs.t_slots}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> z-scored EF (B,)"""
        return self.head(self.inputs(tokens))                                      # (B, N, 2D) in

    def ef(self, tokens: torch.Tensor) -> torch.Tensor:
        """EF in %. (B, N, D) -> (B,)"""
        return self.head.from_z(self(tokens))


class LinearProbe(nn.Module):
    """Ridge regression on pooled features (B, P) -> z-scored EF (B,); features standardised with the
    training split's mean and std (so centred z needs no intercept)."""

    def __init__(self, dim: int, ef_mean: float = 0.0, ef_std: float = 1.0):
        super().__init__()
        self.dim = dim
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_std", torch.ones(dim))
        self.register_buffer("weight", torch.zeros(dim))
        self.register_buffer("ef_mean", torch.tensor(float(ef_mean)))
        self.register_buffer("ef_std", torch.tensor(float(ef_std)))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return ((pooled.float() - self.feat_mean) / self.feat_std) @ self.weight

    def ef(self, pooled: torch.Tensor) -> torch.Tensor:
        return self(pooled) * self.ef_std + self.ef_mean


@torch.no_grad()
def predict_tokens(probe: nn.Module, features: torch.Tensor, batch: int = 256) -> np.ndarray:
    """EF % for stored features (n, N, D) or (n, P), in batches, on the probe's device."""
    device = next(probe.buffers()).device
    return torch.cat([probe.ef(features[i:i + batch].to(device).float()).cpu()
                      for i in range(0, len(features), batch)]).numpy()


@torch.no_grad()
def predict_ef(wrapper, probe: ProbeHead | BeatProbe, x: torch.Tensor) -> torch.Tensor:
    """EF in % from model input clips x (B, T, C, H, W) through the frozen encoder. -> (B,)"""
    tokens = wrapper.tokens(x)                                            # (B, N, D)
    return probe.ef(tokens.to(probe.ef_mean.device))
