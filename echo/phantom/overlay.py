"""Scanner-export dressing: the fan on a wider canvas with burned-in text, depth marks and an ECG.

Real exports carry these outside the sector; the sector crop must find the fan and drop them.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from echo.clip import Clip
from echo.phantom.params import PhantomParams


def ecg(phase: np.ndarray) -> np.ndarray:
    """A synthetic ECG (arbitrary units) for cardiac phase 0..1 with the R wave at end-diastole."""
    d = (phase + 0.5) % 1.0 - 0.5                              # signed distance from ED
    qrs = np.exp(-(d / 0.012) ** 2) - 0.25 * np.exp(-((d + 0.03) / 0.01) ** 2) - 0.3 * np.exp(-((d - 0.03) / 0.012) ** 2)
    t_wave = 0.3 * np.exp(-((phase - 0.3) / 0.05) ** 2)
    p_wave = 0.15 * np.exp(-((phase - 0.88) / 0.03) ** 2)
    return qrs + t_wave + p_wave


def burn_in_overlay(clip: Clip, p: PhantomParams) -> Clip:
    """Place the fan on a canvas 1.5x wider and 1.3x taller with text top-left and an ECG at the bottom."""
    T, S = clip.n_frames, clip.height
    top, left = S // 8, S // 4
    H, W = int(S * 1.3), int(S * 1.5)
    pad = lambda a: np.pad(a, ((0, 0), (top, H - S - top), (left, W - S - left)))  # noqa: E731
    frames = pad(clip.frames)
    scale, thick = max(S / 300, 0.25), 1
    for line, text in enumerate(("ECHOLENS PHANTOM", f"A4C  {p.depth_cm:.0f} cm", f"HR {p.hr_bpm:.0f}")):
        for f in frames:
            cv2.putText(f, text, (2, int((line + 1) * 12 * scale / 0.3)), cv2.FONT_HERSHEY_SIMPLEX,
                        scale, 230, thick, cv2.LINE_AA)
    for k in range(1, 5):  # depth marks along the right edge of the fan
        frames[:, top + k * S // 5, left + S + 2:left + S + 5] = 200
    # ECG sweeping across the bottom strip: the last 2 s up to each frame's time.
    xs = np.arange(W)
    window = 2.0
    for t in range(T):
        tt = t / clip.fps - window * (1 - xs / W)
        ph = (p.phase0 + tt * p.hr_bpm / 60.0) % 1.0
        ys = (H - S // 10 - ecg(ph) * S / 14).astype(np.int32)
        cv2.polylines(frames[t], [np.stack([xs, ys], 1).reshape(-1, 1, 2)], False, 255, 1, cv2.LINE_AA)
    truth = clip.truth
    if truth is not None:
        truth = dataclasses.replace(
            truth, labels=pad(truth.labels), clean=pad(truth.clean),
            lv_tracings={k: v + np.array([left, top, left, top], np.float64) for k, v in truth.lv_tracings.items()},
        )
    meta = dict(clip.meta, overlay=True, fan_offset=(top, left))
    return Clip(frames=frames, fps=clip.fps, source=clip.source, truth=truth, meta=meta)
