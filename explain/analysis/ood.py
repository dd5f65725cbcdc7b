"""How far a clip's embedding lies from the phantom the shipped models learned from.

Fit once per model on pooled embeddings of phantom training-split clips: mean, top principal axes and
their variances. A clip's score is its Mahalanobis distance in that subspace plus the residual
outside it (scaled by the mean residual variance). Calibrated on held-out phantom validation clips: the
score's percentile among theirs, and `out_of_distribution` when it exceeds their 99th percentile.
Saved beside the model as ood.json; `python -m explain.analysis.ood --fit` writes it for the shipped ones.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from model_zoo.checkpoint import read_json

OOD_FILE = "ood.json"
FIT_CLIPS, CALIBRATION_CLIPS, AXES = 300, 150, 16


@dataclass
class OODReference:
    mean: list[float]            # (D,)
    axes: list[list[float]]      # (K, D) principal axes, rows
    variances: list[float]       # (K,)
    residual_variance: float     # mean variance per dimension left outside the axes
    calibration: list[float]     # sorted scores of held-out phantom clips
    n_fit: int

    def score(self, pooled: np.ndarray) -> np.ndarray:
        """(B, D) pooled embeddings -> (B,) distance, about sqrt(D) for a typical training clip."""
        z = np.asarray(pooled, np.float64) - np.asarray(self.mean)          # (B, D)
        axes = np.asarray(self.axes)                                         # (K, D)
        proj = z @ axes.T                                                    # (B, K)
        inside = (proj ** 2 / np.asarray(self.variances)).sum(1)
        outside = ((z - proj @ axes) ** 2).sum(1) / self.residual_variance
        return np.sqrt(inside + outside)

    def assess(self, pooled: np.ndarray) -> dict:
        """One clip's {score, percentile among held-out phantom clips, threshold, out_of_distribution}."""
        s = float(self.score(np.asarray(pooled).reshape(1, -1))[0])
        cal = np.asarray(self.calibration)
        threshold = float(np.percentile(cal, 99))
        return {"score": round(s, 3), "percentile": round(100.0 * float((cal < s).mean()), 1),
                "threshold": round(threshold, 3), "out_of_distribution": bool(s > threshold)}


def fit_reference(fit: np.ndarray, calibration: np.ndarray, k: int = AXES) -> OODReference:
    """fit (n, D), calibration (m, D) pooled embeddings -> the reference."""
    mean = fit.mean(0)
    z = fit - mean
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    k = min(k, len(s) - 1)
    var = s ** 2 / (len(fit) - 1)                                            # (min(n, D),)
    residual = float(var[k:].sum() / max(fit.shape[1] - k, 1))
    ref = OODReference(mean.tolist(), vt[:k].tolist(), var[:k].tolist(), max(residual, 1e-8), [], len(fit))
    ref.calibration = sorted(ref.score(calibration).tolist())
    return ref


def save_reference(ref: OODReference, folder: str | Path) -> Path:
    path = Path(folder) / OOD_FILE
    path.write_text(json.dumps(asdict(ref)))
    return path


def load_reference(folder: str | Path) -> OODReference | None:
    path = Path(folder) / OOD_FILE
    if not path.is_file():
        return None
    names = tuple(f.name for f in fields(OODReference))
    data = read_json(path, required=names)
    return OODReference(**{k: data[k] for k in names})


def _pooled(wrapper, split: str, n: int) -> np.ndarray:
    """Pooled embeddings of the first n phantom clips of an evaluation split (one beat, 16 frames)."""
    from explain.analysis.window import model_view
    from model_zoo.data import render_beat
    from model_zoo.features import input_shape, split_seeds
    frames, size = input_shape(wrapper)
    out = []
    for seed in split_seeds(split, n):
        x = model_view(render_beat(seed, "adult", frames, size), frames, size).x
        out.append(wrapper.pooled(x).float().cpu().numpy()[0])
    return np.stack(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m explain.analysis.ood",
                                 description="fit the out-of-distribution reference of shipped models")
    ap.add_argument("--fit", action="store_true", required=True)
    ap.add_argument("--models", default="jepa-small,mae-small")
    ap.add_argument("--n-fit", type=int, default=FIT_CLIPS)
    ap.add_argument("--n-calibration", type=int, default=CALIBRATION_CLIPS)
    args = ap.parse_args(argv)
    import model_zoo
    from model_zoo.registry import resolve
    torch.set_num_threads(2)
    for name in args.models.split(","):
        wrapper = model_zoo.load(name, device="cpu")
        ref = fit_reference(_pooled(wrapper, "train", args.n_fit), _pooled(wrapper, "val", args.n_calibration))
        path = save_reference(ref, resolve(name)[0])
        cal = np.asarray(ref.calibration)
        print(f"{path}: fit on {args.n_fit} train clips, calibrated on {args.n_calibration} val clips; "
              f"score median {np.median(cal):.2f}, 99th percentile {np.percentile(cal, 99):.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
