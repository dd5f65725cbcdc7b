"""Numbers about a trajectory: does the loop close, can the phase be read from it, and how far
does a degradation move it.

- loop_closure: mean distance between the embedding at a phase and at the same phase one beat
  later, over the mean distance between points half a beat apart (the loop's size). 0 = the loop
  retraces itself exactly; 1 = a beat later the embedding is as far away as the opposite phase.
- phase_decodability: ridge regression of (cos, sin) of the phase on the standardised embedding,
  cross-validated (contiguous blocks of frames, or whole clips when groups are given, so no frame's
  neighbours train its prediction); the error is the mean absolute angle error in degrees, beside the same
  folds' chance: a constant embedding's read-out (the training folds' mean phase). That is 90 where each fold
  holds whole beats (whole clips), more where folds cut beats (one clip's frames: a held-out stretch's phases are
  rarer in the rest).
- trajectory_shift: mean distance between paired points of a degraded and the clean run, over the
  clean run's mean distance from its centroid (the loop's radius).
All distances are Euclidean in the space given (full embeddings, or projected points).
"""
from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from echo.clip import Clip
from echo.degrade import apply_condition, copy_to_degrade
from explain.trajectory.embeddings import frame_embeddings
from explain.trajectory.phase import circular_error
from model_zoo.features import input_shape

RIDGE_ALPHAS = np.logspace(-2, 4, 13)


def _cycles(phase: np.ndarray) -> np.ndarray:
    """(n,) phase in [0, 1) -> (n,) cycles since the first frame's beat began, increasing (unwrapped)."""
    return np.unwrap(2 * np.pi * np.asarray(phase, np.float64)) / (2 * np.pi)


def _points(points: np.ndarray, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, p = np.asarray(points, np.float64), np.asarray(phase, np.float64)
    if x.ndim != 2 or p.shape != (len(x),):
        raise ValueError(f"points (n, D) and phase (n,) must match; got {x.shape} and {p.shape}")
    return x, _cycles(p)


def _pairs_apart(x: np.ndarray, cycles: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and the trajectory `shift` cycles later (linear interpolation along the cycles)."""
    keep = cycles + shift <= cycles[-1] + 1e-9
    later = np.stack([np.interp(cycles[keep] + shift, cycles, x[:, d]) for d in range(x.shape[1])], 1)
    return x[keep], later


def beats_covered(phase: np.ndarray) -> float:
    """How many heartbeats the phase sequence spans."""
    cycles = _cycles(phase)
    return float(cycles[-1] - cycles[0]) if len(cycles) else 0.0


def loop_closure(points: np.ndarray, phase: np.ndarray, min_pairs: int = 1) -> float:
    """Same-phase distance one beat apart / distance half a beat apart (see the module docstring).
    points (n, D) in frame order, phase (n,) cycles in [0, 1), rising. Needs more than one beat, and at least
    min_pairs points with a point one beat later: one clip's figure from a single pair spreads about four times as
    wide as from 33 (a noisy circle: 0.25 ± 0.13 against ± 0.03); a mean over many clips can take fewer."""
    x, cycles = _points(points, phase)
    if cycles[-1] - cycles[0] < 1.0:
        raise ValueError(f"loop closure needs more than one heartbeat; these points cover "
                         f"{cycles[-1] - cycles[0]:.2f} beats")
    a, b = _pairs_apart(x, cycles, 1.0)
    if len(a) < min_pairs:
        raise ValueError(f"loop closure from {len(a)} point(s) with one a beat later is mostly noise: it needs "
                         f"{min_pairs}; these points cover {cycles[-1] - cycles[0]:.2f} beats")
    c, d = _pairs_apart(x, cycles, 0.5)
    size = float(np.linalg.norm(c - d, axis=1).mean())
    if not size > 0:              # a collapsed model: read as n/a, as its shift is, not as 'nan' in a table or JSON
        raise ValueError("loop closure needs a trajectory that moves: these points do not change over a beat")
    return float(np.linalg.norm(a - b, axis=1).mean() / size)


def phase_decodability(embeddings: np.ndarray, phase: np.ndarray, groups: np.ndarray | None = None,
                       folds: int = 5) -> dict:
    """Cross-validated phase read-out from embeddings (n, D). -> {'error_deg': mean absolute error,
    'median_error_deg', 'chance_deg': the same folds' error reading a constant embedding, 'n', 'folds'}; groups (n,)
    (e.g. clip ids) keep each group in one fold, and add 'group_error_deg': each group's mean error, in the order of
    np.unique(groups) (its spread: how much one clip's error differs from another's)."""
    x = np.asarray(embeddings, np.float64)
    p = np.asarray(phase, np.float64)
    if x.ndim != 2 or p.shape != (len(x),):
        raise ValueError(f"embeddings (n, D) and phase (n,) must match; got {x.shape} and {p.shape}")
    splitter = GroupKFold(n_splits=folds) if groups is not None else KFold(n_splits=folds)
    if len(x) < 2 * folds or (groups is not None and len(np.unique(groups)) < folds):
        raise ValueError(f"phase decodability needs at least {2 * folds} points"
                         + (f" and {folds} groups" if groups is not None else ""))
    y = np.stack([np.cos(2 * np.pi * p), np.sin(2 * np.pi * p)], 1)         # (n, 2)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    pred = cross_val_predict(model, x, y, cv=splitter, groups=groups)        # (n, 2)
    err = _angle_errors(pred, p)
    constant = cross_val_predict(DummyRegressor(), x, y, cv=splitter, groups=groups)    # the training folds' mean
    out = {"error_deg": float(err.mean()), "median_error_deg": float(np.median(err)),
           "chance_deg": float(_angle_errors(constant, p).mean()), "n": int(len(x)), "folds": folds}
    if groups is not None:
        g = np.asarray(groups)
        out["group_error_deg"] = [float(err[g == k].mean()) for k in np.unique(g)]
    return out


def _angle_errors(pred: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """(n, 2) predicted (cos, sin) against (n,) phases -> (n,) absolute angle errors in degrees."""
    return 360.0 * circular_error(np.arctan2(pred[:, 1], pred[:, 0]) / (2 * np.pi) % 1.0, phase)


def trajectory_shift(clean: np.ndarray, degraded: np.ndarray) -> float:
    """Mean paired distance degraded-clean over the clean run's mean distance from its centroid."""
    c, d = np.asarray(clean, np.float64), np.asarray(degraded, np.float64)
    if c.shape != d.shape or c.ndim != 2:
        raise ValueError(f"clean and degraded runs must be paired (n, D) arrays; got {c.shape}, {d.shape}")
    radius = float(np.linalg.norm(c - c.mean(0), axis=1).mean())
    if radius == 0:
        raise ValueError("the clean trajectory does not move; its shift has no scale")
    return float(np.linalg.norm(d - c, axis=1).mean() / radius)


def degraded_runs(wrapper, clip: Clip, conditions: list[str], stride: int = 1, seed: int = 0) -> dict:
    """Embeddings of the clean clip and of each degraded copy (same crop, same frames) and each
    copy's shift. -> {'clean': FrameEmbeddings, 'runs': {condition: FrameEmbeddings},
    'shift': {condition: float}}"""
    # degrade inside the clean clip's crop, a copy the model's input size allows; the clean run reads the same copy
    cropped = copy_to_degrade(clip, input_shape(wrapper)[1])
    clean = frame_embeddings(wrapper, cropped, stride)
    runs, shifts = {}, {}
    for condition in conditions:
        runs[condition] = frame_embeddings(wrapper, apply_condition(cropped, condition, seed=seed), stride)
        shifts[condition] = trajectory_shift(clean.embeddings, runs[condition].embeddings)
    return {"clean": clean, "runs": runs, "shift": shifts}
