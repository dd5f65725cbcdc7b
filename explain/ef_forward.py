"""A differentiable clip -> EF function for attribution: the wrapped encoder, then its attentive EF
probe, with gradients kept (no torch.no_grad, unlike EncoderWrapper.tokens / probes.predict_ef).

Load the probe that ships beside a model with model_zoo.probes.load_probe(folder) (or take it
from explain.analysis.pair.load_model); a checkpoint without one gets no EF attribution.
"""
from __future__ import annotations

import torch
from torch import nn

from model_zoo.probes import ProbeHead


def require_probe(wrapper, probe: ProbeHead | None, what: str = "EF attribution") -> ProbeHead:
    if probe is None:
        raise ValueError(f"{what} needs an EF probe, and {wrapper.name or 'this model'} has none "
                         "(no probe.safetensors beside it): use attention rollout or the pretext attribution.")
    return probe


class EFForward(nn.Module):
    """x (B, T, C, H, W) model input -> EF in % (B,), differentiable in x."""

    def __init__(self, wrapper, probe: ProbeHead | None):
        super().__init__()
        self.probe = require_probe(wrapper, probe)
        self.encoder = wrapper.encoder
        self.device = wrapper.device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(x.to(self.device)).last_hidden_state          # (B, N, D)
        return self.probe.ef(tokens.to(self.probe.ef_mean.device))          # (B,)

    @torch.no_grad()
    def batched(self, x: torch.Tensor, batch: int = 16) -> torch.Tensor:
        """EF of many clips without gradients, `batch` at a time. (M, T, C, H, W) -> (M,) on the CPU"""
        return torch.cat([self(x[i:i + batch]).float().cpu() for i in range(0, len(x), batch)])
