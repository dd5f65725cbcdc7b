"""How far a clip's embedding lies from the phantom the shipped models learned from.

Fit once per model on pooled embeddings of phantom training-split clips: mean, top principal axes and
their variances. A clip's score is its Mahalanobis distance in that subspace plus the residual
outside it (scaled by the mean residual variance). Calibrated on held-out phantom validation clips: the
score's percentile among theirs, and `out_of_distribution` when it exceeds their 99th percentile.
Saved beside the model as ood.json; `python -m explain.analysis.ood --fit` writes it for the shipped ones.
`--check` then measures what a verdict is worth: the share of held-out phantom test clips it flags, adult
clean, pediatric (a population the models never saw) and under the benchmark's strongest degradations,
stored in ood.json as `flag_rates` and shown beside every score.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from echo.degrade import label_words
from model_zoo.checkpoint import read_json

OOD_FILE = "ood.json"
FIT_CLIPS, CALIBRATION_CLIPS, AXES = 300, 150, 16
CHECK_CLIPS, CHECK_CONDITIONS = 100, ("depth_attenuation_2.15", "shadow_high")


@dataclass
class OODReference:
    mean: list[float]            # (D,)
    axes: list[list[float]]      # (K, D) principal axes, rows
    variances: list[float]       # (K,)
    residual_variance: float     # mean variance per dimension left outside the axes
    calibration: list[float]     # sorted scores of held-out phantom clips
    n_fit: int
    flag_rates: dict | None = None   # {"n": clips, "adult"|"pediatric"|condition: share flagged}, from --check

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


def declared_shift(population: str | None, degradation: str | None) -> str:
    """What a phantom file says of itself that the models never learned from ('' for a clean adult clip)."""
    return ("a child's heart" if population == "pediatric" else f"degraded ({label_words(degradation)})" if degradation
            else "")


def ood_words(ood: dict, shift: str = "") -> str:
    """One assessment in words, as the page and the headless outputs give it: the score against its threshold,
    then the verdict; a shift the file itself declares (`declared_shift`) outranks a score that missed it."""
    rank = ("higher than every one of them" if ood["percentile"] >= 99.95 else     # floored: never 'than 100%'
            f"higher than {math.floor(10 * ood['percentile']) / 10:g}% of them")
    verdict = ("outside the phantom training distribution: treat this EF with extra suspicion"
               if ood["out_of_distribution"] else
               f"not flagged, yet the file says this clip is {shift}, which the models never learned from: "
               "the score missed a known shift" if shift else
               "within the phantom training distribution (which does not make the EF a measurement)")
    places = 2 if round(ood["score"], 2) != round(ood["threshold"], 2) else 3   # never read as equal to it
    return (f"Out-of-distribution score {ood['score']:.{places}f} (the 99th percentile of held-out phantom clips' "
            f"scores is {ood['threshold']:.{places}f}; this clip scores {rank}): {verdict}.")


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


def load_reference(folder: str | Path, dim: int | None = None) -> OODReference | None:
    """The reference saved beside a model (None without one), its shapes checked against each other and against
    the model's embedding width `dim` when given: a file cut short failed every prediction later, naming no file."""
    path = Path(folder) / OOD_FILE
    if not path.is_file():
        return None
    names = tuple(f.name for f in fields(OODReference))
    data = read_json(path, required=names[:-1])                          # flag_rates: only once checked
    try:
        mean, axes, variances, calibration = (np.asarray(data[k], np.float64) for k in
                                              ("mean", "axes", "variances", "calibration"))
        residual = float(data["residual_variance"])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: its mean, axes, variances, residual_variance and calibration must be numbers "
                         "(lists of them); `python -m explain.analysis.ood --fit` writes it") from None
    width = dim if dim is not None else (mean.shape[0] if mean.ndim == 1 else -1)
    fits = (mean.shape == (width,) and axes.ndim == 2 and axes.shape[1] == width and variances.shape == (len(axes),)
            and calibration.ndim == 1 and calibration.size > 0 and residual > 0
            and all(np.isfinite(a).all() for a in (mean, axes, variances, calibration)))
    if not fits:
        raise ValueError(f"{path} does not fit {'this model' if dim is not None else 'itself'}: mean {mean.shape}, axes "
                         f"{axes.shape}, variances {variances.shape}, calibration {calibration.shape}, residual variance "
                         f"{residual:g}" + (f" for {dim}-wide embeddings" if dim is not None else "") +
                         "; remove it or make it again (`python -m explain.analysis.ood --fit` for the shipped models)")
    return OODReference(**{k: data[k] for k in names if k in data})


def flag_rate_words(rates: dict | None) -> str:
    """'flags 3% of 100 adult phantom test clips, ...' for a checked reference; '' for an unchecked one."""
    if not rates:
        return ""
    pct = lambda k: f"{100 * rates[k]:.0f}%"
    degraded = [f"{pct(k)} of {words}" for k, words in (("depth_attenuation_2.15", "deeply attenuated ones"),
                                                         ("shadow_high", "strongly shadowed ones")) if k in rates]
    return (f"flags {pct('adult')} of {rates['n']} adult phantom test clips, {pct('pediatric')} of pediatric ones "
            "(a population the models never saw)" + "".join(f", {d}" for d in degraded))


def flag_rates(model, n: int = CHECK_CLIPS, conditions: tuple[str, ...] = CHECK_CONDITIONS) -> dict:
    """Share of n phantom test clips a LoadedModel's reference calls out of distribution: adult clean, the
    pediatric split's clips, and the adult clips under each condition (inside the clean clip's crop and beat,
    as the evaluation and the degradation lab do). -> {"n": n, "adult": f, "pediatric": f, condition: f}."""
    from echo.degrade import apply_condition
    from echo.preprocess import crop_to_sector
    from explain.analysis.predict import predict
    from model_zoo.data import render_beat
    from model_zoo.features import split_seeds
    frames, size = model.input_shape
    one = {model.role: model}
    flagged = dict.fromkeys(("adult", "pediatric", *conditions), 0)
    for adult, child in zip(split_seeds("test", n), split_seeds("pediatric", n)):
        clip = crop_to_sector(render_beat(adult, "adult", frames, size))
        clean = predict(one, clip)[model.role]
        flagged["adult"] += clean.ood["out_of_distribution"]
        for cond in conditions:
            copy = predict(one, apply_condition(clip, cond, seed=adult), beat=clean.view.beat)[model.role]
            flagged[cond] += copy.ood["out_of_distribution"]
        young = predict(one, render_beat(child, "pediatric", frames, size))[model.role]
        flagged["pediatric"] += young.ood["out_of_distribution"]
    return {"n": n, **{k: round(v / n, 3) for k, v in flagged.items()}}


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
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--fit", action="store_true", help="fit and calibrate ood.json (drops its flag rates)")
    what.add_argument("--check", action="store_true", help="measure the flag rates of the ood.json there is")
    ap.add_argument("--models", default="jepa-small,mae-small")
    ap.add_argument("--n-fit", type=int, default=FIT_CLIPS)
    ap.add_argument("--n-calibration", type=int, default=CALIBRATION_CLIPS)
    ap.add_argument("--n-check", type=int, default=CHECK_CLIPS)
    args = ap.parse_args(argv)
    import model_zoo
    from model_zoo.registry import resolve
    torch.set_num_threads(2)
    if args.check:
        _check(args.models.split(","), args.n_check)
        return
    for name in args.models.split(","):
        wrapper = model_zoo.load(name, device="cpu")
        ref = fit_reference(_pooled(wrapper, "train", args.n_fit), _pooled(wrapper, "val", args.n_calibration))
        path = save_reference(ref, resolve(name)[0])
        cal = np.asarray(ref.calibration)
        print(f"{path}: fit on {args.n_fit} train clips, calibrated on {args.n_calibration} val clips; "
              f"score median {np.median(cal):.2f}, 99th percentile {np.percentile(cal, 99):.2f}", file=sys.stderr)


def _check(names: list[str], n: int) -> None:
    from explain.analysis.pair import load_model
    from model_zoo.registry import describe, resolve
    print("| model | clips each | adult test | pediatric | " + " | ".join(CHECK_CONDITIONS) + " |")
    print("|---|---|---|---|" + "---|" * len(CHECK_CONDITIONS))
    for name in names:
        folder = resolve(name)[0]
        if not folder.is_dir():
            raise SystemExit(f"{name} is a checkpoint file, not a model folder: the check reads and writes the "
                             f"{OOD_FILE} beside a model.")
        ref = load_reference(folder)                     # as on disk now, not as the load cache may hold it
        if ref is None:
            raise SystemExit(f"{name} has no {OOD_FILE}: fit one first (--fit).")
        model = load_model(name, describe(folder)["family"], "cpu")               # its family's column
        rates = flag_rates(replace(model, ood=ref), n)
        save_reference(replace(ref, flag_rates=rates), folder)
        shares = " | ".join(f"{100 * rates[k]:.0f}%" for k in ("adult", "pediatric", *CHECK_CONDITIONS))
        print(f"| {name} | {n} | {shares} |")


if __name__ == "__main__":
    main()
