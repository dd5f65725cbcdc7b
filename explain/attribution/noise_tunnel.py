"""Optional: SmoothGrad over IntegratedGradients (Captum NoiseTunnel), averaging IG over noisy copies
of the clip to quiet speckle-level gradient noise. nt_samples times the cost of IG.

The noise is NOISE_SHARE of the clip's range by default, as SmoothGrad's paper advises (10-20%): a fixed 0.2 in
ImageNet-normalised units, about 4% of a clip's range (-2.12 to 2.64), gave maps that correlated 0.999 with
integrated gradients' own on the shipped models, at four times the cost."""
from __future__ import annotations

import torch
from captum.attr import IntegratedGradients, NoiseTunnel

from explain.attribution.baseline import black_like


NOISE_SHARE = 0.15         # of the clip's range (its max minus its min), the default noise std


def smoothgrad_ig(forward, x: torch.Tensor, nt_samples: int = 4, stdev: float | None = None, n_steps: int = 8,
                  internal_batch_size: int = 4, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """-> (attribution (B, T, C, H, W), info). stdev in model-input units (ImageNet-normalised), NOISE_SHARE of the
    clips' range when None (info says which was used); seed: the noise's.
    info's convergence_delta is the mean magnitude of IG's delta over the noisy copies, and ef_change the
    mean EF change it should add up to (sum of the averaged attributions minus the mean delta), per clip,
    so a map built on unconverged integrals is flagged as integrated gradients' own is."""
    if stdev is None:
        stdev = round(NOISE_SHARE * float(x.max() - x.min()), 4)
    if nt_samples < 1 or stdev < 0:
        raise ValueError(f"nt_samples must be >= 1 and stdev >= 0; got {nt_samples}, {stdev}.")
    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):    # seeded noise, the caller's RNG untouched
        torch.manual_seed(seed)                                              # the same clip gives the same map
        attr, delta = NoiseTunnel(IntegratedGradients(forward)).attribute(
            x, nt_type="smoothgrad", nt_samples=nt_samples, nt_samples_batch_size=1, stdevs=stdev,
            baselines=black_like(x), n_steps=n_steps, internal_batch_size=internal_batch_size,
            return_convergence_delta=True)
    # Captum runs one noisy copy of every clip at a time (nt_samples_batch_size=1) and joins the deltas copy by
    # copy: (nt, B), so each clip's are a column (read as rows, two clips' deltas were mixed)
    delta = delta.detach().reshape(nt_samples, len(x)).T         # (B, nt)
    sums = attr.detach().flatten(1).sum(1)                       # (B,)
    return attr.detach(), {"nt_samples": nt_samples, "stdev": stdev, "n_steps": n_steps,
                           "convergence_delta": delta.abs().mean(1).tolist(),
                           "ef_change": (sums - delta.mean(1)).tolist()}
