"""Probe features: the evaluation's phantom clips, rendered once and kept, and what the frozen
encoders (plus two honesty baselines) make of them.

Clips are rendered as pretraining renders them (model_zoo.data.render_beat: one heartbeat in
`frames` frames, `size` px) from seeds disjoint from pretraining's (1,000,000 + i):
train 2,000,000 + i, val 3,000,000 + i, test 4,000,000 + i (adult), pediatric 5,000,000 + i.
A degraded condition applies echo.degrade.apply_condition(clip, condition, seed=clip seed) inside the
clean clip's sector crop (echo.preprocess.crop_to_sector), then echo.preprocess.to_model_input, which
does not look for a cropped clip's fan again: every condition sees the same clips through the same
crop, as the EchoJEPA benchmark degrades the model's input. (Looking for the fan in the degraded
clip lost its darkened far edges: at depth attenuation 2.15 the crop narrowed by 9 px of 112 on
average, up to 18, so every encoder saw a zoomed heart, a change of geometry the benchmark does not make.)

Baselines beside the pretrained encoders:
- random: the same architecture as a pretrained encoder, randomly initialised with a fixed seed (its
  input gain normalisation too, model_zoo.gain_norm, if the encoder has one).
- pixels: the model input itself, grey, average-pooled 4x in space (16 x 28 x 28 for 16 x 112 px).
  Tokens are tubelets of 2 frames x 4 x 4 pooled pixels (the encoders' token grid: one token per
  2 x 16 x 16 input pixels) plus 4 position features (t, y, x, depth from the sector apex, in
  [0, 1]), since the attentive probe has no position of its own: (B, 392, 36) at 16 x 112 px.
  Its pooled view, for the linear probe, is the whole pooled clip flattened (B, 12544).
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from echo.clip import Clip, GroundTruth
from echo.degrade import apply_condition
from echo.phantom.seeds import SPLIT_SEEDS, split_population
from echo.preprocess import crop_to_sector, to_model_input
from model_zoo.data import render_beat
from model_zoo.gain_norm import EPS, gain_normalise
from model_zoo.masks import clip_shape
from model_zoo.wrapper import EncoderWrapper

PIXEL_POOL, PIXEL_PATCH, PIXEL_TUBELET = 4, 4, 2


def split_seeds(split: str, n: int) -> list[int]:
    return [SPLIT_SEEDS[split] + i for i in range(n)]


class ClipBank:
    """Rendered evaluation clips, kept per seed. Only what the evaluation reads is kept: frames, frame
    rate, EF, and the sector (labels reduced to their maximum over frames, all echo.degrade reads),
    about frames x size^2 bytes a clip."""

    def __init__(self, frames: int, size: int):
        self.frames, self.size = frames, size
        self._clips: dict[tuple[str, int], Clip] = {}

    def clip(self, split: str, seed: int) -> Clip:
        key = (split_population(split), seed)
        if key not in self._clips:
            c = render_beat(seed, key[0], self.frames, self.size)
            truth = GroundTruth(ef=c.truth.ef, labels=c.truth.labels.max(axis=0, keepdims=True))
            self._clips[key] = Clip(frames=c.frames, fps=c.fps, source=c.source, truth=truth)
        return self._clips[key]

    def clips(self, split: str, n: int) -> list[Clip]:
        return [self.clip(split, s) for s in split_seeds(split, n)]

    def ef(self, split: str, n: int) -> np.ndarray:
        return np.array([c.truth.ef for c in self.clips(split, n)])


def model_inputs(clips: list[Clip], seeds: list[int], condition: str, frames: int, size: int,
                 batch: int = 16) -> Iterator[torch.Tensor]:
    """Batches (B, T, C, H, W) of the clips under a condition, each degraded with its own clip seed
    inside the clean clip's sector crop (see the module docstring)."""
    for i in range(0, len(clips), batch):
        chunk = [apply_condition(crop_to_sector(c), condition, seed=s)
                 for c, s in zip(clips[i:i + batch], seeds[i:i + batch])]
        yield to_model_input(chunk, frames=frames, size=size, channels=3)


class PixelEncoder:
    """Raw pixels as tokens, the baseline any encoder must beat (see the module docstring)."""

    family = "pixels"

    def __init__(self, frames: int, size: int, gain_norm: float = 0.0, gain_eps: float = EPS):
        self.gain_norm = gain_norm      # model_zoo.gain_norm's sigma before pooling (0 = raw pixels)
        self.gain_eps = gain_eps        # and its floor; a name says it where it is not the default
        floor = f"_eps_{gain_eps:g}" if gain_eps != EPS else ""
        self.name = f"pixels_gain_norm_{gain_norm:g}{floor}" if gain_norm else "pixels"
        side = size // PIXEL_POOL // PIXEL_PATCH
        self.grid = (frames // PIXEL_TUBELET, side, side)
        t, y, x = torch.meshgrid(*(torch.linspace(0, 1, g) for g in self.grid), indexing="ij")
        depth = torch.sqrt((x - 0.5) ** 2 + y ** 2) / np.sqrt(1.25)
        self.position = torch.stack([t, y, x, depth], -1).reshape(-1, 4)    # (N, 4)

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> grey, pooled (B, T, H/4, W/4)"""
        b, t, _, h, w = x.shape
        x = gain_normalise(x.float(), self.gain_norm, self.gain_eps) if self.gain_norm else x
        grey = x.float().cpu().mean(2).reshape(b * t, 1, h, w)
        return F.avg_pool2d(grey, PIXEL_POOL).reshape(b, t, h // PIXEL_POOL, w // PIXEL_POOL)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, N, 2*4*4 + 4) in token order t' * H'W' + h * W' + w"""
        g = self.clip(x)                                                      # (B, T, h, w)
        b = g.shape[0]
        (nt, nh, nw), pt, p = self.grid, PIXEL_TUBELET, PIXEL_PATCH
        patches = g.reshape(b, nt, pt, nh, p, nw, p).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, nt * nh * nw, -1)
        return torch.cat([patches, self.position.expand(b, -1, -1)], -1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The whole pooled clip, flattened. -> (B, T * H/4 * W/4)"""
        return self.clip(x).flatten(1)


def random_encoder(like: EncoderWrapper, seed: int) -> EncoderWrapper:
    """A freshly initialised network of `like`'s architecture (transformers' own init), seeded.

    The encoder is initialised again from `seed` once the whole network is built (on the CPU), so its
    draw depends on the encoder's own architecture only: building the predictor or decoder first
    consumes random numbers, and a deeper predictor used to draw a different untrained encoder."""
    net = type(like.net)(copy.deepcopy(like.net.config))
    encoder = EncoderWrapper(like.family, net, name="random", device="cpu", input_gain_norm=0).encoder
    torch.manual_seed(seed)
    for module in encoder.modules():
        net._init_weights(module)
    return EncoderWrapper(like.family, net, name="random", device=like.device, input_gain_norm=like.input_gain_norm,
                          input_gain_eps=like.input_gain_eps)


def input_shape(wrapper: EncoderWrapper) -> tuple[int, int]:
    """(frames, size) of a model's input."""
    return clip_shape(wrapper.config)


@torch.no_grad()
def views(encoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (B, N, D), pooled (B, P)) on the CPU, float32. Pooled is the token mean for encoders."""
    tokens = encoder.tokens(x).float().cpu()
    pooled = encoder.pooled(x) if isinstance(encoder, PixelEncoder) else tokens.mean(1)
    return tokens, pooled.float().cpu()


@dataclass
class Features:
    """One encoder's features of one split: tokens (n, N, D) float16, pooled (n, P) float32, EF (n,) %."""
    tokens: torch.Tensor
    pooled: torch.Tensor
    ef: np.ndarray


def extract(encoders: dict, batches: Iterator[torch.Tensor], ef: np.ndarray) -> dict[str, Features]:
    """Every encoder's features over the same input batches (each batch is prepared once)."""
    parts: dict[str, list] = {name: [] for name in encoders}
    for x in batches:
        for name, enc in encoders.items():
            tokens, pooled = views(enc, x)
            parts[name].append((tokens.half(), pooled))
    return {name: Features(torch.cat([t for t, _ in p]), torch.cat([q for _, q in p]), ef)
            for name, p in parts.items()}
