"""Pretraining data: seeded phantom clips rendered on the fly, one heartbeat each, lightly augmented.

The stream is a pure function of (recipe, batch index): batch b holds samples b*B .. b*B+B-1, sample
i is clip seed data_seed + i % n_clips with augmentation drawn from (seed, i). So both methods see
the same clips in the same order, any number of loader workers gives the same batches, and a resumed
run picks up at its step. Rendering a clip costs more CPU than training on it, so each process keeps
the clips it rendered (n_clips x frames x size^2 bytes at most: 200 KB a clip at 16 x 112 x 112) and
later passes over the pool only re-augment them. The clip source and the preprocessing are injectable
(tests pass stand-ins).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from echo.clip import Clip, GroundTruth
from echo.degrade import compose
from echo.preprocess import crop_to_sector, nearest_frames
from model_zoo.gain_norm import blur_frames, gain_normalise
from model_zoo.recipes import Recipe

ClipSource = Callable[[int], Clip]            # clip seed -> Clip
ToInput = Callable[[Clip], torch.Tensor]      # Clip -> (1, T, C, H, W) ImageNet-normalised


def render_beat(seed: int, population: str, frames: int, size: int, speckle_seed: int | None = None) -> Clip:
    """A phantom clip of exactly one heartbeat in `frames` frames (frame rate = frames * heart rate).

    Same as rendering at the phantom's own frame rate and picking frames evenly over a beat (the
    phantom scales speckle decorrelation with frame rate), at a fraction of the rendering cost.
    speckle_seed: the renderer's seed, for heart `seed` with other speckle (default: `seed`, its own clip).
    """
    from echo.phantom import render, sample_params
    hr_bpm = sample_params(seed, population).hr_bpm
    p = sample_params(seed, population, n_frames=frames, size=size, fps=frames * hr_bpm / 60.0)
    return render(p if speckle_seed is None else dataclasses.replace(p, seed=speckle_seed))


def phantom_source(recipe: Recipe) -> ClipSource:
    """Seeded one-beat phantom clips of the recipe's population, frame count and size."""
    return functools.partial(render_beat, population=recipe.population, frames=recipe.frames, size=recipe.size)


def echo_preprocess(recipe: Recipe) -> ToInput:
    """echo.preprocess's to_model_input: 3-channel, ImageNet-normalised, recipe frames and size."""
    from echo.preprocess import to_model_input
    return functools.partial(to_model_input, frames=recipe.frames, size=recipe.size, channels=3)


def frames_per_beat(clip: Clip) -> float:
    """Frames per heartbeat from the ground truth (GroundTruth.frames_per_beat), else the whole clip."""
    beat = None if clip.truth is None else clip.truth.frames_per_beat()
    return float(clip.n_frames) if beat is None else beat


def one_beat(clip: Clip, n: int, rng: np.random.Generator) -> Clip:
    """n frames evenly covering one heartbeat from a random start (the whole clip if it is shorter)."""
    span = min(frames_per_beat(clip), float(clip.n_frames))
    start = rng.uniform(0.0, clip.n_frames - span)
    idx = nearest_frames(start + np.arange(n) * span / n, clip.n_frames)
    return Clip(frames=clip.frames[idx], fps=clip.fps * n / span, source=clip.source)


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float], ratio: tuple[float, float],
                        rng: np.random.Generator) -> torch.Tensor:
    """One crop (area fraction in scale, aspect w/h log-uniform in ratio) for all frames, resized back.

    x (T, C, H, W) -> (T, C, H, W). Falls back to the whole frame if no drawn crop fits.
    """
    _, _, h, w = x.shape
    for _ in range(10):
        area = rng.uniform(*scale) * h * w
        ar = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(area * ar))), int(round(math.sqrt(area / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = x[:, :, top:top + ch, left:left + cw]
            return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)
    return x


def acquisition_view(clip: Clip, strength: float, rng: np.random.Generator, shadow: float = 0.0) -> Clip:
    """The clip as another acquisition might show it: extra depth attenuation (severity uniform in
    [0, strength]) and a gain cut (severity uniform in [0, strength / 2]), echo.degrade's, in the fan;
    with shadow > 0 also an acoustic shadow (a rib's or the lung's; severity uniform in [0, shadow])."""
    steps = [("depth_attenuation", rng.uniform(0, strength)), ("gain", rng.uniform(0, strength / 2))]
    if shadow:                                  # drawn only then: recipes without it keep their stream
        steps.append(("shadow", rng.uniform(0, shadow)))
    return compose(clip, steps, seed=int(rng.integers(2**31)))


class PhantomBatches(IterableDataset):
    """Endless batches from batch index `start`; worker k of K yields b = start+k, +K, ...

    A batch is (B, T, C, H, W), or (B, views, T, C, H, W) for more than one view: acquisitions of
    the same clip (recipe.acq_jitter) through the same crop."""

    def __init__(self, recipe: Recipe, start: int = 0, clip_source: ClipSource | None = None,
                 to_input: ToInput | None = None, views: int = 1):
        if not 0 <= recipe.acq_jitter <= 1:
            raise ValueError(f"acq_jitter is a severity in [0, 1]; got {recipe.acq_jitter}")
        if not 0 <= recipe.acq_shadow <= 1:
            raise ValueError(f"acq_shadow is a severity in [0, 1]; got {recipe.acq_shadow}")
        if recipe.acq_shadow and recipe.acq_jitter == 0:
            raise ValueError("acq_shadow is part of the acquisition jitter: it needs acq_jitter > 0")
        if recipe.acq_clean_targets and recipe.acq_jitter == 0:
            raise ValueError("acq_clean_targets needs acquisition jitter (acq_jitter > 0) on the view the encoder reads")
        if recipe.jepa_target_blur < 0 or (recipe.jepa_target_blur and recipe.acq_jitter == 0):
            raise ValueError("jepa_target_blur is a blur in pixels >= 0 of the JEPA's target view, which needs "
                             f"acquisition jitter (acq_jitter > 0); got {recipe.jepa_target_blur}")
        if views > 1 and recipe.acq_jitter == 0:
            raise ValueError("more than one view needs acquisition jitter (acq_jitter > 0) to differ")
        self.recipe = recipe
        self.start = start
        self.views = views
        self.clip_source = clip_source or phantom_source(recipe)
        self.to_input = to_input or echo_preprocess(recipe)
        self._clips: dict[int, Clip] = {}

    def clip(self, seed: int) -> Clip:
        """The clip of a seed, rendered once per process; only frames, frame rate and timing are kept."""
        if seed not in self._clips:
            c = self.clip_source(seed)
            truth = c.truth and GroundTruth(phase=c.truth.phase, ed_frames=c.truth.ed_frames)
            self._clips[seed] = Clip(frames=c.frames, fps=c.fps, source=c.source, truth=truth)
        return self._clips[seed]

    def _augment(self, clip: Clip, rng: np.random.Generator, blur: float = 0.0) -> torch.Tensor:
        """Preprocessed, randomly cropped, blurred by `blur` pixels if > 0, and gain-normalised if the recipe
        asks. -> (T, C, H, W)"""
        x = self.to_input(clip)
        x = x[0] if x.ndim == 5 else x
        x = random_resized_crop(x.float(), self.recipe.crop_scale, self.recipe.crop_ratio, rng)    # (T, C, H, W)
        x = blur_frames(x[None], blur)[0] if blur > 0 else x
        r = self.recipe
        return gain_normalise(x[None], r.input_gain_norm, r.input_gain_eps)[0] if r.input_gain_norm else x

    def sample(self, i: int) -> torch.Tensor:
        """Sample i of the stream. -> (T, C, H, W), or (views, T, C, H, W)"""
        r = self.recipe
        rng = np.random.default_rng([r.seed, i])
        clip = one_beat(self.clip(r.data_seed + i % r.n_clips), r.frames, rng)
        if r.acq_jitter == 0:
            return self._augment(clip, rng)
        clip = crop_to_sector(clip)             # the fan found once, on the clean clip: every view keeps it
        crop_seed = int(rng.integers(2**31))    # one spatial crop for every view
        views = [clip if k == 1 and r.acq_clean_targets else acquisition_view(clip, r.acq_jitter, rng, r.acq_shadow)
                 for k in range(self.views)]                 # view 1: the targets (JEPA latents, MAE pixels)
        views = [self._augment(v, np.random.default_rng(crop_seed), r.jepa_target_blur if k == 1 else 0.0)
                 for k, v in enumerate(views)]
        return views[0] if self.views == 1 else torch.stack(views)

    def batch(self, b: int) -> torch.Tensor:
        n = self.recipe.batch
        return torch.stack([self.sample(b * n + i) for i in range(n)])  # (B, [views,] T, C, H, W)

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = get_worker_info()
        b, stride = (self.start + info.id, info.num_workers) if info else (self.start, 1)
        while True:
            yield self.batch(b)
            b += stride


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def make_loader(recipe: Recipe, start: int = 0, workers: int | None = None,
                clip_source: ClipSource | None = None, to_input: ToInput | None = None,
                views: int = 1) -> DataLoader:
    """A DataLoader over PhantomBatches; workers render in the background, one thread each."""
    workers = recipe.workers if workers is None else workers
    return DataLoader(PhantomBatches(recipe, start, clip_source, to_input, views), batch_size=None,
                      num_workers=workers, worker_init_fn=_one_thread if workers else None)


def data_card(recipe: Recipe) -> dict:
    """What the model was trained on, for its card."""
    r = recipe
    shadow = f", acoustic shadow up to severity {r.acq_shadow}" if r.acq_shadow else ""
    return {
        "source": "echo.phantom.render_clip, one beat per clip (model_zoo.data.render_beat)",
        "population": r.population,
        "clip_seeds": [r.data_seed, r.data_seed + r.n_clips - 1],
        "clip": f"{r.frames} frames over one heartbeat, {r.size} px, 3 channels, ImageNet-normalised "
                "(echo.preprocess.to_model_input, sector crop)",
        "augmentation": f"random resized crop, scale {list(r.crop_scale)}, aspect {list(r.crop_ratio)}, "
                        "same for all frames" + (
                            f"; acquisition jitter {r.acq_jitter} (model_zoo.data.acquisition_view: depth "
                            f"attenuation and gain cut{shadow}, a fresh draw per view)" if r.acq_jitter else "") + (
                            "; the target view is the clean acquisition (the JEPA's targets, the MAE's pixels)" if r.acq_clean_targets else "") + (
                            f"; the JEPA's target view blurred by a Gaussian of {r.jepa_target_blur} px before the "
                            "gain normalisation" if r.jepa_target_blur else ""),
        **({"input": f"local gain normalisation, Gaussian sigma {r.input_gain_norm} of the width, floor "
                     f"{r.input_gain_eps}, after the crop (model_zoo.gain_norm); every loaded copy of the model applies it too"}
           if r.input_gain_norm else {}),
    }
