"""Render one phantom clip with full ground truth: the heart moves, the scanner images it."""
from __future__ import annotations

import math

import numpy as np

from echo.clip import Clip, GroundTruth
from echo.phantom.heart import (
    BASE_CUT, area_length_volume, contraction_factors, from_heart_frame, heart_state, label_map,
    lv_cavity_area, lv_tracing, material_coords, to_heart_frame,
)
from echo.phantom.overlay import burn_in_overlay
from echo.phantom.params import PhantomParams, sample_params
from echo.phantom.scanner import Fan, form_image


def render_clip(seed: int, population: str = "adult", n_frames: int = 32, size: int = 112,
                fps: float | None = None, **overrides) -> Clip:
    """A seeded apical 4-chamber clip; any PhantomParams field can be pinned by keyword."""
    if fps is not None:
        overrides["fps"] = float(fps)
    return render(sample_params(seed, population, n_frames=n_frames, size=size, **overrides))


def cardiac_phase(p: PhantomParams) -> np.ndarray:
    """(T,) phase in [0, 1) per frame; 0 = end-diastole."""
    t = np.arange(p.n_frames) / p.fps
    return np.mod(p.phase0 + t * p.hr_bpm / 60.0, 1.0)


def frames_at_phase(phase: np.ndarray, target: float) -> list[int]:
    """The frame closest to `target` phase each time the clip passes it (one a beat); at the clip's ends, within
    half the neighbouring frame step. Each passage is judged by its own neighbours' spacing, not the clip's median
    step: an estimated phase runs faster in a shorter beat, whose nearest frame could lie past half the median."""
    phase = np.asarray(phase, np.float64)
    if len(phase) < 2:
        return [0] if len(phase) else []
    u = np.unwrap(phase * 2 * np.pi) / (2 * np.pi)                       # (T,) cycles, rising
    hits = []
    for m in range(math.floor(u[0] - target), math.ceil(u[-1] - target) + 1):
        c = target + m
        j = int(np.searchsorted(u, c))                                  # u[j - 1] < c <= u[j]
        if j == 0:
            k = 0 if u[0] - c <= (u[1] - u[0]) / 2 + 1e-9 else None
        elif j == len(u):
            k = j - 1 if c - u[-1] <= (u[-1] - u[-2]) / 2 + 1e-9 else None
        else:
            k = j if u[j] - c < c - u[j - 1] else j - 1
        if k is not None and (not hits or k != hits[-1]):
            hits.append(k)
    return hits


def render(p: PhantomParams) -> Clip:
    if p.n_frames < 1 or p.size < 16 or p.fps <= 0:
        raise ValueError("a phantom clip needs at least one frame, 16 pixels and a positive frame rate")
    phase = cardiac_phase(p)
    state = heart_state(p, phase)
    fan = Fan.of(p)
    u, v = to_heart_frame(p, fan.x, fan.y)
    labels = label_map(p, state, u, v) * fan.mask                       # (T, H, W)
    mu, mv = material_coords(p, state, u, v)
    mcol, mrow = fan.to_px(*from_heart_frame(p, mu, mv))
    rng = np.random.default_rng([p.seed, 7919])
    frames, clean = form_image(p, fan, labels, (mrow, mcol), rng)
    frames, clean, labels = (fan.full_height(a) for a in (frames, clean, labels))

    ka, kc = contraction_factors(p.ef)
    a_ed, c_ed = p.lv_halfwidth_cm, p.lv_length_cm / BASE_CUT
    edv = float(area_length_volume(lv_cavity_area(a_ed, c_ed), BASE_CUT * c_ed))
    esv = float(area_length_volume(lv_cavity_area(a_ed * ka, c_ed * kc), BASE_CUT * c_ed * kc))
    ed, es = frames_at_phase(phase, 0.0), frames_at_phase(phase, p.systole_fraction)
    tracings = {}
    for k in ed + es:
        seg = lv_tracing(p, state, k)                                   # (21, 4) cm
        tracings[k] = np.concatenate([np.stack(fan.to_px(seg[:, 0], seg[:, 1]), 1),
                                      np.stack(fan.to_px(seg[:, 2], seg[:, 3]), 1)], 1)
    truth = GroundTruth(ef=float(p.ef), edv=edv, esv=esv, phase=phase.astype(np.float32),
                        ed_frames=ed, es_frames=es, labels=labels, clean=clean, lv_tracings=tracings)
    meta = {"phantom": True, "population": p.population, "seed": p.seed, "hr_bpm": round(p.hr_bpm, 1),
            "depth_cm": round(p.depth_cm, 1), "cm_per_px": fan.cm_per_px}
    clip = Clip(frames=frames, fps=p.fps, source=f"phantom:{p.population}:{p.seed}", truth=truth, meta=meta)
    return burn_in_overlay(clip, p) if p.overlay else clip
