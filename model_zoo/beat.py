"""What changes over the beat: each token's deviation from its place's mean over the clip's time slots.

Tokens are ordered t' * places + place (both families, model_zoo.masks). EF is a change between
end-diastole and end-systole, so this is where it lives; a pooled mean over the clip cannot hold it.
Used by the JEPA's beat-weighted targets (model_zoo.jepa.emphasise_beat) and the probes' beat view
(model_zoo.probe_inputs.beat_features, in the evaluation and the probe protocol).
"""
from __future__ import annotations

import torch


def beat_deviation(tokens: torch.Tensor, t_slots: int) -> torch.Tensor:
    """tokens minus their mean over the time slots at each place. (B, N, D) -> (B, T', N / T', D)"""
    b, n, d = tokens.shape
    if n % t_slots:
        raise ValueError(f"{n} tokens do not split into {t_slots} time slots")
    per_slot = tokens.view(b, t_slots, n // t_slots, d)                    # (B, T', P, D)
    return per_slot - per_slot.mean(1, keepdim=True)
