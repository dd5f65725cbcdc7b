"""Embeddings to 2D/3D points: PCA (instant, the default for one clip) or UMAP (cosine metric).

Several runs (a clean clip and its degraded copies, say) are fitted jointly, on all their points
at once, so their points share one set of axes and can be overlaid. UMAP's n_neighbors is adapted
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
        raise ValueError("runs fitted jointly must share one embedding size")
    if not 1 <= dims <= 3:
        raise ValueError(f"dims must be 1, 2 or 3; got {dims}")
    x = np.concatenate(arrays)
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return x, np.cumsum([len(a) for a in arrays])[:-1].tolist()


def pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) -> ((n, dims) scores, (dims,) explained variance share); axes signed so each axis's
    largest loading is positive (deterministic), missing axes (n or D too small) zero."""
    centred = x - x.mean(0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(dims, len(s))
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(1)])
    signs[signs == 0] = 1
    scores = np.zeros((len(x), dims))
    scores[:, :k] = u[:, :k] * s[:k] * signs
    total = float((s ** 2).sum())
    explained = np.zeros(dims)
    explained[:k] = s[:k] ** 2 / total if total > 0 else 0.0
    return scores, explained


def umap_neighbours(n_points: int) -> int:
    """n_neighbors for n points: umap's default 15, fewer for small sets (at least 2)."""
    return int(max(2, min(UMAP_NEIGHBOURS, n_points - 1)))


def _umap(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    import umap  # slow import (numba): only when asked for
    if len(x) < 4:
        raise ValueError(f"UMAP needs at least 4 points; got {len(x)} (use PCA)")
    reducer = umap.UMAP(n_components=dims, metric="cosine", n_neighbors=umap_neighbours(len(x)),
                        random_state=seed, n_jobs=1, init="spectral" if len(x) > dims + 8 else "random")
    return reducer.fit_transform(x)


def _key(x: np.ndarray, dims: int, seed: int, splits: list[int]) -> str:
    h = hashlib.sha1(np.ascontiguousarray(x).tobytes())
    h.update(repr((x.shape, dims, seed, splits)).encode())
    return h.hexdigest()


def project(runs: Sequence[np.ndarray], method: str = "pca", dims: int = 3, seed: int = 0) -> Projection:
    """Fit one projection on all runs' points together; return each run's points. [(n_i, D)] -> [(n_i, dims)]"""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    x, splits = _stack(runs, dims)
    if method == "pca":
        scores, explained = pca(x, dims)
        return Projection(np.split(scores, splits), "pca", explained)
    key = _key(x, dims, seed, splits)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return Projection([p.copy() for p in _cache[key]], "umap")
    points = np.split(np.asarray(_umap(x, dims, seed), np.float64), splits)
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

