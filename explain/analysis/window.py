"""The frames a model sees of a clip: one heartbeat sampled into the model's frame count, cropped to
the sector and resized, with the ground truth (labels, clean image, phase) carried along.

The shipped models learned from one heartbeat in 16 frames; sampling any clip that way keeps the
heart's motion per frame what they saw in training (a 64-frame clip at 50 fps is not 16 frames
from its start).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from echo import limits
from echo.clip import Clip, ClipError
from echo.preprocess import (Sector, crop_to_sector, fan_to_crop, is_cropped, nearest_frames, resize_frames,
                             resize_truth, to_model_input)
from explain.analysis.beat import beat_frames

if TYPE_CHECKING:                          # pair imports this module (through ood): named for the annotation only
    from explain.analysis.pair import LoadedModel


@dataclass
class ModelView:
    """x: (1, T, C, S, S) model input; frames: (T, S, S) uint8 what it shows; labels, clean: (T, S, S)
    or None; phase: (T,) cycles or None; indices: (T,) source frame of each; beat: frames per beat
    in the source clip and where that came from; ef: ground-truth EF or None; tracings: EchoNet LV
    tracings {view frame: (K, 4) x1, y1, x2, y2} in the view's pixels, for the traced frames it kept;
    traced_elsewhere: the clip's source frames with LV tracings when none of them is among the frames shown; fps: the
    source clip's frame rate; held: how many of the frames, at the end, repeat the clip's last frame because the beat
    runs past the clip's end (0: the whole beat is shown)."""
    x: torch.Tensor
    frames: np.ndarray
    labels: np.ndarray | None
    clean: np.ndarray | None
    phase: np.ndarray | None
    indices: np.ndarray
    beat: tuple[float, str]
    ef: float | None
    tracings: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    traced_elsewhere: tuple[int, ...] = ()
    fps: float | None = None          # the source clip's frame rate: a beat's length in seconds is beat[0] / fps
    held: int = 0

    @property
    def beat_seconds(self) -> float | None:
        return None if not self.fps else self.beat[0] / self.fps

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def playback_fps(self) -> float | None:
        """The frame rate that plays the view's frames (one beat) in the beat's real time; None without fps."""
        return None if not self.fps else self.fps * self.n_frames / self.beat[0]


def beat_positions(beat: float, frames: int, start: int = 0) -> np.ndarray:
    """(frames,) fractional source frame positions evenly over one beat from `start`."""
    return start + np.arange(frames) * beat / frames


def beat_indices(n_frames: int, beat: float, frames: int, start: int = 0) -> np.ndarray:
    """(frames,) source indices evenly over one beat from `start`, nearest frame, clamped to the clip."""
    return nearest_frames(beat_positions(beat, frames, start), n_frames)


def frames_past_end(n_frames: int, beat: float, frames: int, start: int = 0) -> int:
    """How many of beat_indices' frames lie past the clip's end (their nearest frame, halves up, is frame n_frames
    or later), so show the clip's last frame again: 0 where the clip holds the whole beat from `start`."""
    return int((beat_positions(beat, frames, start) >= n_frames - 0.5).sum())


def select_frames(clip: Clip, idx: np.ndarray) -> Clip:
    """The clip at the given frame indices, ground truth sliced alike."""
    t = clip.truth
    if t is not None:
        pick = lambda a: None if a is None else np.asarray(a)[idx]
        t = dataclasses.replace(t, phase=pick(t.phase), labels=pick(t.labels), clean=pick(t.clean),
                                ed_frames=[i for i, k in enumerate(idx) if k in set(t.ed_frames)],
                                es_frames=[i for i, k in enumerate(idx) if k in set(t.es_frames)],
                                lv_tracings={i: t.lv_tracings[k] for i, k in enumerate(idx) if k in t.lv_tracings})
    return Clip(clip.frames[idx], clip.fps, clip.source, t, dict(clip.meta))


def clip_name(clip: Clip) -> str:
    """The clip's file name as messages give it ('the clip' when it has none)."""
    return Path(clip.source or "").name or "the clip"


def check_model_side(clip: Clip) -> None:
    """Refuse a clip under the models' smallest side (echo.limits.check_model_frame_size). The limit is the file's:
    a crop crop_to_sector made (a degraded copy is its fan's) is read as the clip's view is, not checked again."""
    if not is_cropped(clip):
        limits.check_model_frame_size(clip.height, clip.width, clip_name(clip))


def model_view(clip: Clip, frames: int = 16, size: int = 112, start: int = 0,
               beat: tuple[float, str] | None = None, sector: Sector | None = None) -> ModelView:
    """What a model with `frames` x `size` px input sees of `clip`, one beat from frame `start`.
    beat: (frames per beat, where it came from) when known, e.g. the clean clip's for a degraded copy,
    so both show the same frames (default: beat_frames of this clip). sector: the clip's fan_to_crop when the
    caller found it already (finding it reads frames across the whole clip)."""
    if not 0 <= start < clip.n_frames:
        raise ClipError(f"Start frame {start} is outside the clip's {clip.n_frames} frames.")
    name = clip_name(clip)
    check_model_side(clip)
    if beat is None:      # the clip itself, not a degraded copy (a lab's copy at full strength may be blank)
        limits.check_holds_an_image(int(clip.frames.min()), int(clip.frames.max()), name)
    sector = fan_to_crop(clip) if sector is None else sector       # over the whole clip, as to_model_input
    if beat is None:
        beat = beat_frames(clip, sector)
        # a clip whose truth gives its beat may be as short as that beat (tiny phantom clips), not much shorter
        if beat[1] != "ground truth" or clip.n_frames < beat[0] / 2:
            limits.check_holds_a_beat(clip.n_frames, clip.fps, name, clip.meta.get("fps_source") == "default",
                                      None if beat[1] != "ground truth" else beat[0] / clip.fps)
    idx = beat_indices(clip.n_frames, beat[0], frames, start)
    held = frames_past_end(clip.n_frames, beat[0], frames, start)
    cropped = crop_to_sector(select_frames(clip, idx), sector)                # only the frames the model sees
    x = to_model_input(cropped, frames=frames, size=size, channels=3)  # (1, T, C, S, S)
    t = resize_truth(cropped.truth, cropped.height, size)                 # the crop is square
    tracings = {} if t is None else t.lv_tracings
    return ModelView(
        x=x, frames=resize_frames(cropped.gray(), size), indices=idx, beat=beat,     # as the model's input is resized
        labels=None if t is None else t.labels, clean=None if t is None else t.clean,
        phase=None if t is None or t.phase is None else np.asarray(t.phase, np.float32),
        ef=None if t is None else t.ef, tracings=tracings,
        traced_elsewhere=() if tracings or clip.truth is None else tuple(sorted(clip.truth.lv_tracings)), fps=clip.fps,
        held=held)


def views_for(models: dict[str, LoadedModel], clip: Clip, beat: tuple[float, str] | None = None
              ) -> dict[tuple[int, int], ModelView]:
    """One ModelView per distinct input shape among the models (beat: see model_view), the clip's fan found once."""
    if not models:
        return {}
    sector = fan_to_crop(clip)
    return {shape: model_view(clip, *shape, beat=beat, sector=sector)
            for shape in dict.fromkeys(m.input_shape for m in models.values())}
