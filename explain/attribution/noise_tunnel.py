"""Optional: SmoothGrad over IntegratedGradients (Captum NoiseTunnel), averaging IG over noisy copies
of the clip to quiet speckle-level gradient noise. nt_samples times the cost of IG."""
from __future__ import annotations

import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from explain.attribution.baseline import black_like


def smoothgrad_ig(forward, x: torch.Tensor, nt_samples: int = 4, stdev: float = 0.2, n_steps: int = 8,
                  internal_batch_size: int = 4, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """-> (attribution (B, T, C, H, W), info). stdev in model-input units (ImageNet-normalised); seed: the noise's.
    info's convergence_delta is the mean magnitude of IG's delta over the noisy copies, and ef_change the
    mean EF change it should add up to (sum of the averaged attributions minus the mean delta), per clip,
    so a map built on unconverged integrals is flagged as integrated gradients' own is."""
    if nt_samples < 1 or stdev < 0:
        raise ValueError(f"nt_samples must be >= 1 and stdev >= 0; got {nt_samples}, {stdev}.")
    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):    # seeded noise, the caller's RNG untouched
        torch.manual_seed(seed)                                              # the same clip gives the same map
        attr, delta = NoiseTunnel(IntegratedGradients(forward)).attribute(
            x, nt_type="smoothgrad", nt_samples=nt_samples, nt_samples_batch_size=1, stdevs=stdev,
            baselines=black_like(x), n_steps=n_steps, internal_batch_size=internal_batch_size,
            return_convergence_delta=True)
    delta = delta.detach().reshape(len(x), nt_samples)           # (B, nt): NoiseTunnel repeats each clip in place
    sums = attr.detach().flatten(1).sum(1)                       # (B,)
    return attr.detach(), {"nt_samples": nt_samples, "stdev": stdev, "n_steps": n_steps,
                           "convergence_delta": delta.abs().mean(1).tolist(),
                           "ef_change": (sums - delta.mean(1)).tolist()}
