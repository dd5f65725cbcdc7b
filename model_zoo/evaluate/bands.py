"""EF error per band of EF (true or predicted): one MAE hides that a probe trained on EF z-scores pulls low and
high EFs toward the training mean. The evaluation records each probe's clean test error by true-EF band
(results.json, every probe seed's 'clean_by_true_ef'); model_zoo.experiments.ef_bands records the shipped
probes' by true and predicted EF, and `recorded` / `weakest` read that record for the app's prediction card."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from model_zoo.registry import under_shipped

BANDS = ((0, 40), (40, 50), (50, 60), (60, 70), (70, 100))      # EF %, [low, high)


def band_of(ef: float, bands=BANDS) -> tuple[int, int]:
    """The band holding ef (the last band includes its top)."""
    for low, high in bands:
        if low <= ef < high:
            return low, high
    return bands[-1] if ef >= bands[-1][1] else bands[0]


def band_errors(true: np.ndarray, pred: np.ndarray, by: np.ndarray, bands=BANDS) -> list[dict]:
    """Per band of `by` (the true or the predicted EF; each value in its band_of): clips, EF MAE, mean signed
    error (pred - true)."""
    rows, held = [], np.array([band_of(float(v), bands) for v in by]).reshape(-1, 2)      # (n, 2) low, high
    for low, high in bands:
        inside = (held[:, 0] == low) & (held[:, 1] == high)
        err = pred[inside] - true[inside]
        rows.append({"band": [low, high], "n": int(inside.sum()),
                     "mae": round(float(np.abs(err).mean()), 2) if inside.any() else None,
                     "bias": round(float(err.mean()), 2) if inside.any() else None})
    return rows


RECORD = Path(__file__).resolve().parents[1] / "experiments" / "ef_bands.json"   # the shipped probes' record


def _rows(folder: Path | None, stem: str, key: str, path: Path) -> list[dict]:
    """A shipped model's probe's recorded bands (key: 'by_predicted_ef' or 'by_true_ef'); [] for a model that
    is not shipped (its probes were not measured here) or without a record."""
    if folder is None or not under_shipped(folder) or not path.is_file():
        return []
    by_stem = _read(str(path), *_version(path))["models"].get(Path(folder).name, {})
    return (by_stem.get(stem) or {}).get(key, [])


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int, size: int) -> dict:
    """The record, parsed once per version of the file (every prediction card reads it four times)."""
    return json.loads(Path(path).read_text())


def recorded(folder: Path | None, stem: str, ef: float, path: Path = RECORD) -> dict | None:
    """The recorded predicted-EF band holding ef ({'band', 'n', 'mae', 'bias'}), or None (see _rows)."""
    rows = _rows(folder, stem, "by_predicted_ef", path)
    band = list(band_of(ef, tuple(tuple(r["band"]) for r in rows))) if rows else None
    return next((r for r in rows if r["band"] == band and r["n"]), None)


def weakest(folder: Path | None, stem: str, path: Path = RECORD) -> dict | None:
    """The true-EF band where the probe erred most, or None (see _rows)."""
    rows = [r for r in _rows(folder, stem, "by_true_ef", path) if r["n"]]
    return max(rows, key=lambda r: r["mae"]) if rows else None
