"""Each model's embedding through the clip's heartbeats: projected points (PCA or UMAP, 2D or 3D),
the phase and ED/ES they are coloured by, the numbers (loop closure, phase error), and optionally a
degraded copy overlaid in the same projection with its shift."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from echo.clip import Clip
from echo.degrade import apply_condition
from explain.analysis.budget import check_budget
from explain.analysis.degradation import working_copy
from explain.analysis.pair import LoadedModel
from explain.analysis.window import select_frames
from explain.trajectory.embeddings import frame_embeddings
from explain.trajectory.figures import trajectory_figure
from explain.trajectory.metrics import beats_covered, loop_closure, phase_decodability, trajectory_shift
from explain.trajectory.phase import PhaseEstimate, clip_phase, phase_at
from explain.trajectory.projection import project

MAX_POINTS = 48          # at most this many windows per run: a 64-frame clip in a few seconds on a CPU
POINTS_PER_BEAT = 8      # at least this many a beat: a step of over half a beat reads as the phase running backwards
MIN_LOOP_PAIRS = POINTS_PER_BEAT // 2   # one clip's loop closure from at least half a beat of same-phase pairs


@dataclass
class CycleResult:
    role: str
    name: str
    method: str                       # 'pca' | 'umap'
    frames: np.ndarray                # (K,) clip frame of each point
    coords: np.ndarray                # (K, dims) clean run
    degraded: np.ndarray | None       # (K, dims) the degraded run in the same projection
    loop_closure: float | None        # None when the clip covers less than one beat
    phase_error_deg: float | None     # within-clip cross-validated phase error; None when it cannot be fit
    shift: float | None               # degraded vs clean, relative to the loop's radius
    figure: go.Figure
    clip_frames: int | None = None    # the clip's frames, of which the points sample frames[0]..frames[-1]
    phase_chance_deg: float | None = None   # the same read-out of a constant embedding: this clip's chance

    def numbers(self) -> dict:
        # frames: the clip frame of each point (a long clip's points sample a stretch of it, of clip_frames)
        return {"method": self.method, "coords": np.round(self.coords, 4).tolist(),
                "frames": np.asarray(self.frames).tolist(), "clip_frames": self.clip_frames,
                "loop_closure": self.loop_closure, "phase_error_deg": self.phase_error_deg,
                "phase_chance_deg": self.phase_chance_deg}


def skipped_numbers(clip_frames: int) -> dict:
    """CycleResult.numbers()'s keys for a model whose trajectory was not run: empty or null."""
    return {"method": "pca", "coords": [], "frames": [], "clip_frames": clip_frames, "loop_closure": None,
            "phase_error_deg": None, "phase_chance_deg": None}


# the committed run of python -m explain.latent_pixel.report
HELD_OUT = Path(__file__).resolve().parents[1] / "results" / "latent_pixel.json"


def held_out_phase_errors(names) -> dict[str, tuple[float, int, float | None]]:
    """{model name: (phase error in degrees decoded on held-out phantom clips with a read-out fit on other clips,
    clips, its standard deviation over the clips or None where not recorded)}, as the committed latent-vs-pixel
    report measured the shipped models, for the names it holds."""
    try:
        recorded = json.loads(HELD_OUT.read_text()).get("trajectory", {})
    except (OSError, ValueError):
        return {}
    return {n: (float(recorded[n]["phase_error_deg"]), int(recorded[n].get("clips") or 0),
                recorded[n].get("phase_error_clip_sd_deg")) for n in names
            if isinstance((recorded.get(n) or {}).get("phase_error_deg"), (int, float))}


def stride_for(n_frames: int) -> int:
    return max(1, int(np.ceil(n_frames / MAX_POINTS)))


def sampling(n_frames: int, period: float | None) -> tuple[int, int]:
    """(stride, frames used): every stride-th frame of the clip's first `frames used`. The whole clip in at most
    MAX_POINTS points, unless that spaces them wider than a beat / POINTS_PER_BEAT (a long clip: 30 beats in 48
    points jumped two thirds of a beat a step, no loop to see): then a stretch from its start, a few beats, at that
    spacing."""
    stride = stride_for(n_frames)
    if not period or stride <= period / POINTS_PER_BEAT:
        return stride, n_frames
    stride = max(1, int(period // POINTS_PER_BEAT))
    return stride, min(n_frames, MAX_POINTS * stride)


def _safe(fn, *args):
    try:
        return round(float(fn(*args)), 4)
    except ValueError:
        return None


def _phase_read_out(embeddings: np.ndarray, phase: np.ndarray) -> tuple[float | None, float | None]:
    """(within-clip cross-validated phase error, its chance) in degrees; (None, None) where too few points."""
    try:
        decoded = phase_decodability(embeddings, phase)
    except ValueError:
        return None, None
    return round(decoded["error_deg"], 2), round(decoded["chance_deg"], 2)


def cycle(models: dict[str, LoadedModel], clip: Clip, method: str = "pca", dims: int = 3,
          condition: str | None = None, seed: int = 0) -> tuple[dict[str, CycleResult], PhaseEstimate]:
    """{role: CycleResult} and the clip's phase (truth or estimated; its .label says which)."""
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3; got {dims}")
    # degrade inside the clean crop, a copy the models' input size allows (echo.degrade.copy_to_degrade: at full size a
    # degraded copy held 17 times the clip); the clean run reads the same copy, so the two stay paired pixel for pixel
    cropped = working_copy(clip, models)
    estimate = clip_phase(cropped)
    stride, used = sampling(clip.n_frames, estimate.period if estimate.beat_found else None)   # none: the whole clip
    if used < clip.n_frames:
        cropped = select_frames(cropped, np.arange(used))        # frame k stays frame k: the phase still applies
    bad = None if not condition or condition == "clean" else apply_condition(cropped, condition, seed=seed)
    n_windows = len(range(0, used, stride)) + 1
    for m in models.values():
        check_budget(m, n_windows * (2 if bad is not None else 1), "The trajectory view")
    out = {}
    for role, m in models.items():
        clean = frame_embeddings(m.wrapper, cropped, stride)
        runs = [clean.embeddings]
        if bad is not None:
            runs.append(frame_embeddings(m.wrapper, bad, stride).embeddings)
        proj = project(runs, method, dims)
        phase = phase_at(estimate, clean.frames)
        shown = {"clean": (proj.points[0], clean.frames)}
        if bad is not None:
            shown[condition] = (proj.points[1], clean.frames)
        fig = trajectory_figure(shown, estimate, title=f"{m.name}: {method.upper()} {dims}D",
                                axis_prefix="PC" if method == "pca" else "UMAP", explained=proj.explained)
        # no heartbeat found: the colour runs with time, no phase to measure a model against
        loop = (_safe(loop_closure, clean.embeddings, phase, MIN_LOOP_PAIRS)
                if estimate.beat_found and beats_covered(phase) >= 1.0 else None)
        err, chance = _phase_read_out(clean.embeddings, phase) if estimate.beat_found else (None, None)
        shift = _safe(trajectory_shift, runs[0], runs[1]) if bad is not None else None
        out[role] = CycleResult(role, m.name, method, clean.frames, proj.points[0],
                                proj.points[1] if bad is not None else None, loop, err, shift, fig, clip.n_frames, chance)
    return out, estimate
