"""Anatomy focus: does a map put its mass on cardiac structures, more than their area would get by chance?

Structures: walls, valves and pericardium (echo.anatomy.CARDIAC_STRUCTURES) plus the chamber borders,
a thin band (`band` px each side) around each cavity's edge, from the phantom's label masks
(GroundTruth.labels); for EchoNet clips, the LV border from VolumeTracings (echo.echonet.tracing_mask)
on the traced frames.

Scores of a non-negative heat map (T, H, W), mass kept proportional (explain.maps.to_frames with
scale='max'), inside a domain (default: the sector, labels > 0; mass outside it is reported apart):
- focus_share: the clip's mass on structures / its mass in the domain;
- chance_share: the structures' area / the domain's area, what a uniform map would score;
- ratio: focus_share / chance_share (1 = chance, > 1 = drawn to anatomy);
- energy_pointing_game: per frame, the share of the frame's energy on structures (Score-CAM's
  energy-based pointing game, with the structure mask in place of a box), averaged over frames;
- pointing_game: the share of frames whose hottest pixel lies on a structure (within `tolerance` px);
- outside_share, outside_area: the mass outside the domain, and the area there (what an even map would put there).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from echo.anatomy import CARDIAC_STRUCTURES, CAVITIES
from echo.echonet import tracing_mask
from echo.preprocess import disk


def border_band(mask: np.ndarray, band: int = 1) -> np.ndarray:
    """(H, W) bool region -> (H, W) bool band of `band` px on each side of its edge."""
    m = mask.astype(np.uint8)
    return cv2.dilate(m, disk(band)).astype(bool) & ~cv2.erode(m, disk(band)).astype(bool)


def _labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Labels must be (T, H, W) integers (echo.anatomy ids); got {labels.shape} {labels.dtype}.")
    return labels


def chamber_borders(labels: np.ndarray, band: int = 1) -> np.ndarray:
    """(T, H, W) labels -> (T, H, W) bool: a band around the edge of every cavity."""
    labels = _labels(labels)
    out = np.zeros(labels.shape, bool)
    for t, frame in enumerate(labels):
        for c in CAVITIES:
            if (frame == c).any():
                out[t] |= border_band(frame == c, band)
    return out


def structure_mask(labels: np.ndarray, band: int = 1) -> np.ndarray:
    """(T, H, W) labels -> (T, H, W) bool: walls, valves, pericardium and chamber borders."""
    labels = _labels(labels)
    return np.isin(labels, CARDIAC_STRUCTURES) | chamber_borders(labels, band)


def tracing_structures(segments: np.ndarray, height: int, width: int, band: int = 1) -> np.ndarray:
    """EchoNet LV tracing (segments (K, 4)) -> (H, W) bool LV border band (endocardium)."""
    return border_band(tracing_mask(segments, height, width), band)


@dataclass
class FocusScore:
    focus_share: float
    chance_share: float
    ratio: float
    energy_pointing_game: float
    pointing_game: float
    outside_share: float        # share of the clip's mass outside the domain
    frames: int
    outside_area: float = 0.0   # share of the frames' area outside the domain: what an even map puts there

    def to_dict(self) -> dict:
        return asdict(self)


def focus_scores(heat: np.ndarray, structures: np.ndarray, domain: np.ndarray | None = None,
                 frames: Sequence[int] | None = None, tolerance: int = 0) -> FocusScore:
    """Scores of heat (T, H, W) >= 0 against structures (T, H, W) bool inside domain (T, H, W) bool
    (None: the whole frame), over the given frames (None: all; e.g. the traced ED/ES frames)."""
    heat = np.asarray(heat, np.float64)
    structures = np.asarray(structures, bool)
    domain = np.ones(heat.shape, bool) if domain is None else np.asarray(domain, bool)
    if heat.ndim != 3 or structures.shape != heat.shape or domain.shape != heat.shape:
        raise ValueError(f"heat, structures and domain must share one (T, H, W) shape; got {heat.shape}, "
                         f"{structures.shape}, {domain.shape}.")
    if not np.isfinite(heat).all() or heat.min() < 0:
        raise ValueError("The heat map must be finite and non-negative.")
    idx = np.arange(len(heat)) if frames is None else np.asarray(list(frames), int)
    if idx.size == 0 or idx.min() < -len(heat) or idx.max() >= len(heat):
        raise ValueError(f"Frames {list(idx)} are not frames of a {len(heat)}-frame map.")
    heat, structures, domain = heat[idx], structures[idx], domain[idx]
    target = structures & domain
    if not target.any():
        raise ValueError("No structure pixel lies inside the domain: nothing to score against.")
    inside = heat * domain
    total, mass = heat.sum(), inside.sum()
    if mass <= 0:
        raise ValueError("The heat map has no mass inside the domain.")
    focus = float((inside * target).sum() / mass)
    chance = float(target.sum() / domain.sum())
    per_frame = [(h * s).sum() / h.sum() for h, s in zip(inside, target) if h.sum() > 0]
    near = np.stack([cv2.dilate(s.astype(np.uint8), disk(tolerance)).astype(bool) if tolerance else s
                     for s in target])
    hits = [n.flat[int(np.argmax(h))] for h, n in zip(inside, near) if h.sum() > 0]
    return FocusScore(focus, chance, focus / chance, float(np.mean(per_frame)), float(np.mean(hits)),
                      float(1 - mass / total), int(len(idx)), float(1 - domain.mean()))
