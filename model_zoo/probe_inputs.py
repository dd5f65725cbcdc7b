"""What an attentive probe is given: tokens as the encoder gives them, standardised with the training
split's statistics, or each token beside its change over the beat (the evaluation's beat view).

The single-query probe reads EF mostly through what a weighted mean of tokens keeps, and a mean over the
clip cannot hold how much a place changes between end-diastole and end-systole, which is what EF
measures; the beat view puts that change beside each token (model_zoo/RECIPES.md, "Can the probe see the
beat?"). Used by model_zoo.evaluate (the beat view) and model_zoo.experiments.probe_protocol (variants).
"""
from __future__ import annotations

import torch

from model_zoo.beat import beat_deviation

KINDS = ("none", "dim", "position", "beat")


def beat_features(tokens: torch.Tensor, t_slots: int) -> torch.Tensor:
    """Each token beside how far it lies from its place's mean over the clip's time slots, per dimension.
    Tokens ordered t' * places + place. (n, N, D) -> (n, N, 2D) float16"""
    z = tokens.float()
    moving = beat_deviation(z, t_slots).abs().flatten(1, 2)                 # (n, N, D)
    return torch.cat([z, moving], -1).half()


def standardiser(train: torch.Tensor, kind: str, t_slots: int | None = None):
    """A function tokens (n, N, D) -> probe inputs, from the training tokens' statistics. 'none': as they
    are; 'dim': standardised per dimension; 'position': per token position and dimension; 'beat':
    beat_features over `t_slots`, then 'dim'. A std is floored at 1/100 of the mean std, so near-constant
    features (pixels' position features) stay small instead of overflowing float16."""
    if kind not in KINDS:
        raise ValueError(f"unknown probe input {kind!r}; known: {', '.join(KINDS)}")
    if kind == "none":
        return lambda t: t
    if kind == "beat":
        if not t_slots:
            raise ValueError("the beat view needs the number of time slots the tokens span")
        per_dim = standardiser(beat_features(train, t_slots), "dim")
        return lambda t: per_dim(beat_features(t, t_slots))
    axes = (0, 1) if kind == "dim" else (0,)
    x = train.float()
    mean, std = x.mean(axes), x.std(axes)                        # (D,) or (N, D)
    std = std.clamp_min(0.01 * float(std.mean()))
    return lambda t: ((t.float() - mean) / std).clamp(-1e4, 1e4).half()
