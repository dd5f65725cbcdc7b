"""How many frames one heartbeat spans: from ground truth when the clip has it, else from the clip's
own periodicity (the lag at which the frames look most like themselves again).

The shipped models saw one heartbeat in 16 frames, so the app samples every clip that way.
"""
from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from echo.clip import Clip
from echo.limits import MIN_CLIP_SECONDS
from echo.preprocess import Sector, cropped_frames, fan_to_crop

BEAT_SECONDS = (MIN_CLIP_SECONDS, 2.0)     # 200 to 30 beats per minute: the lags searched
MIN_REPEAT = 0.4              # mean frame correlation at the beat lag below which no beat is claimed


def _small_grey(frames: Iterable[np.ndarray], side: int = 32) -> np.ndarray:
    """(T, H, W[, 3]) uint8 frames -> (T, side * side) float, the clip's still background (per-pixel mean
    over time) removed, so only what moves is compared."""
    def shrink(frame: np.ndarray) -> np.ndarray:     # (H, W[, 3]) -> (side, side): one frame at a time, as a float
        grey = frame.mean(-1) if frame.ndim == 3 else frame      # copy of a whole 600-frame 1008-px clip took 2.4 GB
        return cv2.resize(grey.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
    small = np.stack([shrink(f) for f in frames])                # (T, side, side)
    flat = small.reshape(len(small), -1)
    return flat - flat.mean(0, keepdims=True)


def estimate_beat_frames(clip: Clip, sector: Sector | None = None) -> float | None:
    """Frames per beat from self-similarity: mean correlation of frame t with frame t + lag, maximal
    at the beat length. None when the clip is shorter than the shortest beat plus a margin, or
    shows no repeat (best correlation under MIN_REPEAT; tissue-attached speckle decorrelates within a
    beat, so a true repeat correlates at about 0.5-0.8). sector: each frame cropped to it as it is shrunk."""
    lo = max(2, int(np.ceil(BEAT_SECONDS[0] * clip.fps)))
    hi = min(int(BEAT_SECONDS[1] * clip.fps), clip.n_frames - max(8, clip.n_frames // 4))  # enough pairs per lag
    if hi < lo:
        return None
    f = _small_grey(clip.frames if sector is None else cropped_frames(clip.frames, sector))
    f /= np.linalg.norm(f, axis=1, keepdims=True) + 1e-6
    lags = np.arange(lo, hi + 1)
    corr = np.array([np.mean(np.sum(f[:-k] * f[k:], 1)) for k in lags])       # (L,)
    # the first strong peak, not a multiple of the beat
    peaks = [i for i in range(len(lags)) if (i == 0 or corr[i] >= corr[i - 1]) and
             (i == len(lags) - 1 or corr[i] >= corr[i + 1]) and corr[i] >= 0.9 * corr.max()]
    best = peaks[0] if peaks else int(np.argmax(corr))
    return float(lags[best]) if corr[best] >= MIN_REPEAT else None


def beat_frames(clip: Clip, sector: Sector | None = None) -> tuple[float, str]:
    """(frames per beat, where it came from: 'ground truth' | 'estimated' | 'whole clip').
    sector: the clip's fan when the caller has found it already (else found here when needed)."""
    known = None if clip.truth is None else clip.truth.frames_per_beat()
    if known is not None:                   # a phase that does not advance is no beat: estimated as for no truth
        return known, "ground truth"
    sector = fan_to_crop(clip) if sector is None else sector   # text and ECG sweeps outside the fan would mislead it
    est = estimate_beat_frames(clip, sector)
    if est is not None:
        return est, "estimated"
    return float(clip.n_frames), "whole clip"
