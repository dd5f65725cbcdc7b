"""The Clip: one echocardiography cine loop plus whatever ground truth is known about it.

Every reader returns a Clip, every writer and the preprocessing take one, and the phantom renders
one with full ground truth. Frames are (T, H, W) uint8 grayscale, or (T, H, W, 3) uint8 RGB where
colour matters (Doppler). Patient-identifying fields never enter a Clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ClipError(ValueError):
    """The one exception every reader, writer and preprocessing step raises for bad input.

    Its message is written for a clinician: what is wrong with the file and what to do about it,
    never a stack trace or a decoder's internal error code.
    """


@dataclass
class GroundTruth:
    """What is known to be true about a clip; every field is optional.

    ef, edv, esv: ejection fraction (%) and LV volumes (mL).
    phase: (T,) float in [0, 1), cardiac phase per frame with 0 at end-diastole.
    ed_frames, es_frames: frame indices of end-diastole and end-systole.
    labels: (T, H, W) uint8 anatomy label ids per frame (see echo.anatomy.LABELS).
    clean: (T, H, W) uint8 noise-free (speckle-free) image per frame.
    lv_tracings: {frame: (K, 4) float x1, y1, x2, y2 in pixels}, EchoNet's VolumeTracings layout:
        row 0 the long axis, the rest chords across the LV cavity.
    """

    ef: float | None = None
    edv: float | None = None
    esv: float | None = None
    phase: np.ndarray | None = None
    ed_frames: list[int] = field(default_factory=list)
    es_frames: list[int] = field(default_factory=list)
    labels: np.ndarray | None = None
    clean: np.ndarray | None = None
    lv_tracings: dict[int, np.ndarray] = field(default_factory=dict)

    def frames_per_beat(self) -> float | None:
        """Frames per heartbeat: the phase's median advance per frame, else the ED frames' median spacing; None
        where it tells neither (a phase that does not advance beside fewer than two ED frames)."""
        if self.phase is not None and len(self.phase) > 1:
            advance = np.median(np.diff(np.unwrap(2 * np.pi * np.asarray(self.phase, dtype=np.float64))))
            if advance > 0:
                return float(2 * np.pi / advance)
        if len(self.ed_frames) > 1:
            return float(np.median(np.diff(sorted(self.ed_frames))))
        return None


@dataclass
class Clip:
    """A cine loop: frames (T, H, W) or (T, H, W, 3) uint8, its frame rate, where it came from."""

    frames: np.ndarray
    fps: float
    source: str = ""
    truth: GroundTruth | None = None
    meta: dict = field(default_factory=dict)  # non-identifying facts shown to users (codec, size...)

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8:
            raise ClipError("Clip frames must be an 8-bit image array.")
        if f.ndim not in (3, 4) or (f.ndim == 4 and f.shape[-1] != 3):
            raise ClipError(f"Clip frames must be (T, H, W) or (T, H, W, 3); got shape {f.shape}.")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ClipError(f"Clip frame rate must be a positive number; got {self.fps}.")

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def is_rgb(self) -> bool:
        return self.frames.ndim == 4

    def gray(self) -> np.ndarray:
        """(T, H, W) uint8 luminance, whatever the stored colour layout (frame by frame, as luminance)."""
        if not self.is_rgb:
            return self.frames
        out = np.empty(self.frames.shape[:3], np.uint8)                          # (T, H, W)
        for i in range(self.n_frames):
            out[i] = np.clip(np.rint(luminance(self.frames[i:i + 1])[0]), 0, 255)
        return out


def lossy_coded(clip: Clip) -> bool:
    """Whether the clip's pixels went through a lossy codec (meta 'lossy', set by the readers: an MJPEG or H.264
    video, a JPEG DICOM or image folder); False for arrays and where no reader said."""
    return bool(clip.meta.get("lossy", False))


REC601 = np.array([0.299, 0.587, 0.114], np.float32)     # luma weights of R, G, B


def luminance(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) or (T, H, W, 3) uint8 -> (T, H, W) float32: grey as it is, RGB by Rec. 601 luma. Frame by frame:
    the whole clip as float RGB was 12 bytes a pixel at once (a 150-frame 1024-px colour clip: 1.8 GB)."""
    if frames.ndim == 3:
        return frames.astype(np.float32)
    out = np.empty(frames.shape[:3], np.float32)                                 # (T, H, W)
    for i, frame in enumerate(frames):
        out[i] = frame.astype(np.float32) @ REC601
    return out
