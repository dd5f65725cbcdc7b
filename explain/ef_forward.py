"""A differentiable clip -> EF function for attribution: the wrapped encoder, then its attentive EF
probe, with gradients kept (no torch.no_grad, unlike EncoderWrapper.tokens / probes.predict_ef).

Load the probe that ships beside a model with model_zoo.probe_io.load_probe(folder) (or take it
from explain.analysis.pair.load_model); a checkpoint without one gets no EF attribution.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from model_zoo.probes import ProbeHead


def require_probe(wrapper, probe: ProbeHead | None, what: str = "EF attribution") -> ProbeHead:
    if probe is None:
        raise ValueError(f"{what} needs an EF probe, and {wrapper.name or 'this model'} has none "
                         "(no probe.safetensors beside it): use attention rollout or the pretext attribution.")
    return probe


class EFForward(nn.Module):
    """x (B, T, C, H, W) model input -> EF in % (B,), differentiable in x. on_clips(B), when given, is
    told after every pass how many clips went through (a progress bar's count)."""

    def __init__(self, wrapper, probe: ProbeHead | None, on_clips: Callable[[int], None] | None = None):
        super().__init__()
        self.probe = require_probe(wrapper, probe)
        self.encoder = wrapper.encoder
        self.device = wrapper.device
        self.on_clips = on_clips

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(x.to(self.device)).last_hidden_state          # (B, N, D)
        ef = self.probe.ef(tokens.to(self.probe.ef_mean.device))            # (B,)
        if self.on_clips is not None:
            self.on_clips(x.shape[0])
        return ef

    @torch.no_grad()
    def batched(self, x: torch.Tensor, batch: int = 16) -> torch.Tensor:
        """EF of many clips without gradients, `batch` at a time. (M, T, C, H, W) -> (M,) on the CPU"""
        return torch.cat([self(x[i:i + batch]).float().cpu() for i in range(0, len(x), batch)])
