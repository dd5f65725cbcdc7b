"""Embeddings to 2D/3D points: PCA (instant, the default for one clip) or UMAP (cosine metric).

Several runs (a clean clip and its degraded copies, say) share one set of axes, so they can be
overlaid: the projection is fitted on the first run (the clean clip) and the others are placed by that
fit. Fitted on all points at once, a degraded copy's offset took the first axis and flattened every
loop into a line. UMAP's n_neighbors is adapted
to the number of points; its results are cached by content. numba compiles UMAP on first use
(seconds, plus the import): call `warm_up_umap()` at app start, off the request path
(app/warmup.py runs it in a background thread). A seeded UMAP (`random_state`) runs single-threaded.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("pca", "umap")
RANK_TOLERANCE = 1e-10        # a singular value this small beside the largest is rounding: no axis
UMAP_NEIGHBOURS = 15           # umap-learn's default, for enough points
CACHE_SIZE = 32
_cache: OrderedDict[str, list[np.ndarray]] = OrderedDict()
_lock = threading.Lock()


@dataclass
class Projection:
    """points: one (n_i, dims) array per run, in input order; explained: PCA's share of variance per
    axis (None for UMAP); method 'pca' | 'umap'."""
    points: list[np.ndarray]
    method: str
    explained: np.ndarray | None = None


def _stack(runs: Sequence[np.ndarray], dims: int) -> tuple[np.ndarray, list[int]]:
    arrays = [np.asarray(r, np.float64) for r in runs]
    if not arrays or any(a.ndim != 2 or len(a) == 0 for a in arrays):
        raise ValueError("each run must be a non-empty (points, features) array")
    if len({a.shape[1] for a in arrays}) != 1:
        raise ValueError("runs shown on one set of axes must share one embedding size")
    if not 1 <= dims <= 3:
        raise ValueError(f"dims must be 1, 2 or 3; got {dims}")
    x = np.concatenate(arrays)
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return x, np.cumsum([len(a) for a in arrays])[:-1].tolist()


def pca(x: np.ndarray, dims: int, n_fit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) -> ((n, dims) scores, (dims,) explained variance share of the fitted points); the axes fitted on
    the first n_fit points (default: all), every point placed on them; axes signed so each axis's largest
    loading is positive (deterministic), missing axes zero: those the fitted points do not span (n points span n - 1
    at most; their singular values are rounding, whose axes would spread rounding noise over the plot)."""
    fit = x[:n_fit]
    mean = fit.mean(0)
    _, s, vt = np.linalg.svd(fit - mean, full_matrices=False)
    k = min(dims, int((s > RANK_TOLERANCE * s[0]).sum()) if len(s) and s[0] > 0 else 0)
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(1)])
    signs[signs == 0] = 1
    scores = np.zeros((len(x), dims))
    scores[:, :k] = (x - mean) @ (vt[:k].T * signs)
    total = float((s ** 2).sum())
    explained = np.zeros(dims)
    explained[:k] = s[:k] ** 2 / total if total > 0 else 0.0
    return scores, explained


def umap_neighbours(n_points: int) -> int:
    """n_neighbors for n points: umap's default 15, fewer for small sets (at least 2)."""
    return int(max(2, min(UMAP_NEIGHBOURS, n_points - 1)))


def _umap(x: np.ndarray, dims: int, seed: int, n_fit: int | None = None) -> np.ndarray:
    """(n, D) -> (n, dims): fitted on the first n_fit points (default: all), the rest placed by the fit."""
    import umap  # slow import (numba): only when asked for
    n_fit = len(x) if n_fit is None else n_fit
    if n_fit < 4:
        raise ValueError(f"UMAP needs at least 4 points; got {n_fit} (use PCA)")
    if not np.ptp(x[:n_fit], axis=0).any():        # UMAP scatters identical points into a shape that means nothing
        raise ValueError("UMAP needs points that differ: these embeddings are all the same (a model that gives every "
                         "frame one embedding); PCA shows them at one place")
    reducer = umap.UMAP(n_components=dims, metric="cosine", n_neighbors=umap_neighbours(n_fit),
                        random_state=seed, n_jobs=1, init="spectral" if n_fit > dims + 8 else "random")
    fitted = reducer.fit_transform(x[:n_fit])
    return fitted if n_fit == len(x) else np.concatenate([fitted, reducer.transform(x[n_fit:])])


def _key(x: np.ndarray, dims: int, seed: int, splits: list[int]) -> str:
    h = hashlib.sha1(np.ascontiguousarray(x).tobytes())
    h.update(repr((x.shape, dims, seed, splits)).encode())
    return h.hexdigest()


def project(runs: Sequence[np.ndarray], method: str = "pca", dims: int = 3, seed: int = 0) -> Projection:
    """Fit a projection on the first run's points and place every run's by it. [(n_i, D)] -> [(n_i, dims)]"""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    x, splits = _stack(runs, dims)
    n_fit = splits[0] if splits else len(x)
    if method == "pca":
        scores, explained = pca(x, dims, n_fit)
        return Projection(np.split(scores, splits), "pca", explained)
    key = _key(x, dims, seed, splits)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return Projection([p.copy() for p in _cache[key]], "umap")
    points = np.split(np.asarray(_umap(x, dims, seed, n_fit), np.float64), splits)
    with _lock:
        _cache[key] = points
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return Projection([p.copy() for p in points], "umap")


def warm_up_umap() -> float:
    """Import UMAP and compile its numba code on a tiny problem; returns the seconds it took."""
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    _umap(rng.standard_normal((40, 8)), 2, 0)
    return time.perf_counter() - start

