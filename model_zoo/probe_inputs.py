"""What an attentive probe is given: tokens as the encoder gives them, standardised with the training
split's statistics, or each token beside its change over the beat (the evaluation's beat view).

The single-query probe reads EF mostly through what a weighted mean of tokens keeps, and a mean over the
clip cannot hold how much a place changes between end-diastole and end-systole, which is what EF
measures; the beat view puts that change beside each token (model_zoo/RECIPES.md, "Can the probe see the
beat?"). Used by model_zoo.evaluate (the beat view), model_zoo.probes.BeatProbe (the beat view shipped
beside an encoder) and model_zoo.experiments.probe_protocol (variants). The statistics are buffers, so
a fitted input stage is saved and loaded with the probe that reads it.
"""
from __future__ import annotations

import torch
from torch import nn

from model_zoo.beat import beat_deviation

KINDS = ("none", "dim", "position", "beat")


def beat_features(tokens: torch.Tensor, t_slots: int) -> torch.Tensor:
    """Each token beside how far it lies from its place's mean over the clip's time slots, per dimension.
    Tokens ordered t' * places + place. (n, N, D) -> (n, N, 2D) float16"""
    z = tokens.float()
    moving = beat_deviation(z, t_slots).abs().flatten(1, 2)                 # (n, N, D)
    return torch.cat([z, moving], -1).half()


def _check_t_slots(t_slots: int | None) -> int:
    if not t_slots:
        raise ValueError("the beat view needs the number of time slots the tokens span")
    return int(t_slots)


class Standardise(nn.Module):
    """(x - mean) / std with a training split's statistics, float16 out (clamped so it cannot overflow).
    mean, std: (D,) per dimension or (N, D) per token position and dimension."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    @classmethod
    def fit(cls, train: torch.Tensor, axes: tuple[int, ...]) -> "Standardise":
        """Statistics over `axes` of train (n, N, D). A std is floored at 1/100 of the mean std, so
        near-constant features (pixels' position features) stay small instead of overflowing float16."""
        x = train.float()
        mean, std = x.mean(axes), x.std(axes)                    # (D,) or (N, D)
        return cls(mean, std.clamp_min(0.01 * float(std.mean())))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """(n, N, D) -> (n, N, D) float16"""
        return ((t.float() - self.mean) / self.std).clamp(-1e4, 1e4).half()


class BeatInputs(nn.Module):
    """The beat view's input stage: tokens (n, N, D) -> beat_features (n, N, 2D), standardised per
    dimension with the training split's statistics."""

    def __init__(self, t_slots: int, scale: Standardise):
        super().__init__()
        self.t_slots, self.scale = _check_t_slots(t_slots), scale

    @classmethod
    def fit(cls, train: torch.Tensor, t_slots: int) -> "BeatInputs":
        """Statistics of the training tokens' (n, N, D) beat features, per dimension of 2D."""
        t_slots = _check_t_slots(t_slots)
        return cls(t_slots, Standardise.fit(beat_features(train, t_slots), (0, 1)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(n, N, D) -> (n, N, 2D) float16"""
        return self.scale(beat_features(tokens, self.t_slots))


def standardiser(train: torch.Tensor, kind: str, t_slots: int | None = None):
    """A callable tokens (n, N, D) -> probe inputs, from the training tokens' statistics. 'none': as they
    are; 'dim': standardised per dimension, 'position': per token position and dimension (a Standardise);
    'beat': beat_features over `t_slots`, then per dimension (a BeatInputs)."""
    if kind not in KINDS:
        raise ValueError(f"unknown probe input {kind!r}; known: {', '.join(KINDS)}")
    if kind == "none":
        return lambda t: t
    if kind == "beat":
        return BeatInputs.fit(train, t_slots)
    return Standardise.fit(train, (0, 1) if kind == "dim" else (0,))
