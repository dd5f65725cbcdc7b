"""Optional: SmoothGrad over IntegratedGradients (Captum NoiseTunnel), averaging IG over noisy copies
of the clip to quiet speckle-level gradient noise. nt_samples times the cost of IG."""
from __future__ import annotations

import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from explain.attribution.baseline import black_like


def smoothgrad_ig(forward, x: torch.Tensor, nt_samples: int = 4, stdev: float = 0.2, n_steps: int = 8,
                  internal_batch_size: int = 4) -> tuple[torch.Tensor, dict]:
    """-> (attribution (B, T, C, H, W), info). stdev in model-input units (ImageNet-normalised)."""
    if nt_samples < 1 or stdev < 0:
        raise ValueError(f"nt_samples must be >= 1 and stdev >= 0; got {nt_samples}, {stdev}.")
    attr = NoiseTunnel(IntegratedGradients(forward)).attribute(
        x, nt_type="smoothgrad", nt_samples=nt_samples, nt_samples_batch_size=1, stdevs=stdev,
        baselines=black_like(x), n_steps=n_steps, internal_batch_size=internal_batch_size)
    return attr.detach(), {"nt_samples": nt_samples, "stdev": stdev, "n_steps": n_steps}
