"""EF error per band of EF (true or predicted): one MAE hides that a probe trained on EF z-scores pulls low and
high EFs toward the training mean. The evaluation records each probe's clean test error by true-EF band
(results.json, every probe seed's 'clean_by_true_ef'); model_zoo.experiments.ef_bands records the shipped
probes' by true and predicted EF for the app's prediction card."""
from __future__ import annotations

import numpy as np

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
