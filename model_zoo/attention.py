"""Record the self-attention of an encoder's layers during a forward pass, cheaply.

A context manager over an EncoderWrapper's attention modules (`wrapper._attention_modules`), in the
style of lucidrains' vit-pytorch Recorder: on entry it switches the encoder to eager attention (SDPA
returns no weights) and hooks every attention module; on exit it removes the hooks and restores the
attention implementation, even when the forward pass raised.

Each hook receives one layer's (B, heads, N, N) weights and, before anything is stored, fuses the
heads ('mean' | 'max' | 'min', or keeps them all with fuse_heads=None), keeps only the chosen
layers, and can fold the layer into an attention rollout on the fly (`RolloutSpec`), so a rollout
holds one (B, N, N) product instead of every layer's maps: for a ViT-L at 16 x 224 (24 layers,
16 heads, 1568 tokens) the full stack would be 24 x 16 x 1568^2 x 4 B = 3.8 GB per clip.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import torch

FUSIONS = {"mean": lambda a: a.mean(1), "max": lambda a: a.amax(1), "min": lambda a: a.amin(1)}


def check_fusion(fuse_heads: str | None, allow_none: bool = True) -> None:
    if fuse_heads is None and allow_none:
        return
    if fuse_heads not in FUSIONS:
        allowed = ", ".join(FUSIONS) + (" or None" if allow_none else "")
        raise ValueError(f"Unknown head fusion {fuse_heads!r}: use one of {allowed}.")


@dataclass(frozen=True)
class RolloutSpec:
    """How each layer enters the rollout (Abnar & Zuidema 2020, as Gildenblat's vit-explain):
    discard the `discard_ratio` smallest entries of every row, mix in the identity for the residual
    path, A' = (1 - identity) A + identity I, renormalise every row to sum 1, and multiply the
    layers from `start_layer` on: R = A'_L ... A'_start (the last layer on the left)."""
    discard_ratio: float = 0.0
    start_layer: int = 0
    identity: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.discard_ratio < 1.0:
            raise ValueError(f"discard_ratio must be in [0, 1); got {self.discard_ratio}.")
        if not 0.0 <= self.identity <= 1.0:
            raise ValueError(f"identity (residual mixing weight) must be in [0, 1]; got {self.identity}.")
        if self.start_layer < 0:
            raise ValueError(f"start_layer must be >= 0; got {self.start_layer}.")


def rollout_step(a: torch.Tensor, spec: RolloutSpec) -> torch.Tensor:
    """One layer's fused attention made row-stochastic with the residual path. (B, N, N) -> (B, N, N)"""
    a = a.float()
    k = int(spec.discard_ratio * a.shape[-1])
    if k:
        a = a.scatter(-1, a.topk(k, dim=-1, largest=False).indices, 0.0)   # drop the k weakest keys per row
    a = a * (1.0 - spec.identity)                                          # a new tensor: the caller's stays
    a.diagonal(dim1=-2, dim2=-1).add_(spec.identity)                       # + identity * I, without an (N, N) eye
    return a.div_(a.sum(-1, keepdim=True).clamp_min(1e-12))               # rows sum to 1


class AttentionRecorder:
    """with AttentionRecorder(wrapper, fuse_heads='mean', rollout=RolloutSpec()) as rec:
           wrapper.encoder(x)
       rec.maps      # kept layers' attention: (B, N, N) fused, or (B, heads, N, N) with fuse_heads=None
       rec.layers    # their layer indices
       rec.rollout   # (B, N, N) rollout over the layers from spec.start_layer, or None

    modules: an EncoderWrapper (its `_attention_modules` and `encoder`) or a list of attention
    modules whose forward returns (output, weights) under eager attention. layers: indices
    (negative allowed) of layers to keep in `maps`; None keeps all; keep_maps=False keeps none
    (rollout only). Each forward pass replaces what the previous one recorded.
    """

    def __init__(self, modules, fuse_heads: str | None = "mean", layers: Sequence[int] | None = None,
                 keep_maps: bool = True, rollout: RolloutSpec | None = None, root: torch.nn.Module | None = None):
        check_fusion(fuse_heads)
        if rollout is not None and fuse_heads is None:
            raise ValueError("A rollout needs fused heads: pass fuse_heads='mean', 'max' or 'min'.")
        if hasattr(modules, "_attention_modules"):
            root = root if root is not None else modules.encoder
            modules = modules._attention_modules
        self.modules = list(modules)
        n = len(self.modules)
        if rollout is not None and rollout.start_layer >= n:
            raise ValueError(f"start_layer {rollout.start_layer} is past the model's {n} layers.")
        picked = range(n) if layers is None else layers
        for i in picked:
            if not -n <= i < n:
                raise ValueError(f"Layer {i} does not exist: the model has {n} layers.")
        self.keep = sorted({i % n for i in picked}) if keep_maps else []
        self.fuse, self.spec, self.root = fuse_heads, rollout, root
        self.maps: list[torch.Tensor] = []
        self.layers: list[int] = []
        self.rollout: torch.Tensor | None = None
        self._stack: ExitStack | None = None

    def _hook(self, index: int):
        def hook(_module, _inputs, output):
            weights = output[1]
            if weights is None:
                raise RuntimeError("The attention module returned no weights: it is not running eager attention.")
            if index == 0:                                    # a new forward pass starts afresh
                self.maps, self.layers, self.rollout = [], [], None
            a = weights.detach().float()                      # (B, heads, N, N)
            if self.fuse is not None:
                a = FUSIONS[self.fuse](a)                     # (B, N, N); the head stack is dropped here
            if index in self.keep:
                self.maps.append(a)
                self.layers.append(index)
            if self.spec is not None and index >= self.spec.start_layer:
                step = rollout_step(a, self.spec)             # (B, N, N)
                self.rollout = step if self.rollout is None else step @ self.rollout
        return hook

    def __enter__(self) -> AttentionRecorder:
        from model_zoo.wrapper import eager_attention        # here, so wrapper.py may import this module
        with ExitStack() as stack:
            if self.root is not None:
                stack.enter_context(eager_attention(self.root))
            for i, m in enumerate(self.modules):
                stack.callback(m.register_forward_hook(self._hook(i)).remove)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self._stack = None


@torch.no_grad()
def attentions(wrapper, x: torch.Tensor, fuse_heads: str | None = None,
               layers: Sequence[int] | None = None) -> list[torch.Tensor]:
    """Self-attention of the encoder's layers for clips x (B, T, C, H, W): (B, heads, N, N) each, or
    (B, N, N) with heads fused by 'mean' | 'max' | 'min' inside the hook; `layers` keeps only those.
    The signature of EncoderWrapper.attentions, which can delegate here."""
    with AttentionRecorder(wrapper, fuse_heads=fuse_heads, layers=layers) as rec:
        wrapper.encoder(x.to(wrapper.device))
    return rec.maps
