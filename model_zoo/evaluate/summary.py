"""Per-clip predictions -> the results.json numbers: MAE/RMSE/R2 per probe, mean and std over probe
seeds, relative degradation computed from the reported (rounded, seed-mean) MAEs."""
from __future__ import annotations

import numpy as np

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.evaluate.bands import band_errors
from model_zoo.evaluate.protocol import ADULT_CONDITIONS
from model_zoo.probe_fit import regression_metrics

DIGITS = 4


def best_on_val(probe_seeds: list[dict]) -> int:
    """Index of the probe seed with the lowest val MAE: the one `--ship` saves, which the app's EF comes from."""
    return int(np.argmin([run["val"]["mae"] for run in probe_seeds]))


def _r(x: float) -> float:
    return round(float(x), DIGITS)


def _std(values: list[float]) -> float:
    return _r(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def rel_pct(mae: float, clean_mae: float) -> float:
    return 100.0 * (mae - clean_mae) / clean_mae


def benchmark_mean(model: dict) -> float:
    """Mean EF MAE over the six benchmark conditions of one results.json model (or probe view) entry."""
    return float(np.mean([model["degraded"][c]["mae"] for c in BENCHMARK_CONDITIONS]))


def benchmark_mean_std(model: dict) -> float | None:
    """Sample std over probe seeds of each seed's mean over the six benchmark conditions; None with fewer than
    two seeds recorded."""
    seeds = [np.mean([s["degraded"][c] for c in BENCHMARK_CONDITIONS]) for s in model.get("probe_seeds") or []
             if all(c in (s.get("degraded") or {}) for c in BENCHMARK_CONDITIONS)]
    return float(np.std(seeds, ddof=1)) if len(seeds) > 1 else None


def mean_rel_degradation(clean_mae: float, degraded: dict[str, dict]) -> float:
    """Mean over the benchmark conditions of 100 (MAE_cond - MAE_clean) / MAE_clean."""
    return float(np.mean([rel_pct(degraded[c]["mae"], clean_mae) for c in BENCHMARK_CONDITIONS]))


def _per_probe(truth: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> dict:
    """One probe's numbers: clean metrics, MAE per condition, pediatric MAE."""
    mae = {c: regression_metrics(pred[c], truth[c])["mae"] for c in truth}
    clean = {k: _r(v) for k, v in regression_metrics(pred["clean"], truth["clean"]).items()}
    degraded = {c: _r(mae[c]) for c in ADULT_CONDITIONS[1:]}
    rel = mean_rel_degradation(clean["mae"], {c: {"mae": v} for c, v in degraded.items()})
    return {"clean": clean, "degraded": degraded, "pediatric": _r(mae["pediatric"]), "mean_rel_degradation_pct": _r(rel),
            "clean_by_true_ef": band_errors(truth["clean"], pred["clean"], truth["clean"])}


def _block(runs: list[dict]) -> dict:
    """Mean and std over probe runs, in the results.json layout."""
    clean = {}
    for k in ("mae", "rmse", "r2"):
        clean[k], clean[f"{k}_std"] = _r(np.mean([r["clean"][k] for r in runs])), _std([r["clean"][k] for r in runs])
    degraded = {}
    for c in runs[0]["degraded"]:
        values = [r["degraded"][c] for r in runs]
        mae = _r(np.mean(values))
        degraded[c] = {"mae": mae, "mae_std": _std(values), "rel_pct": _r(rel_pct(mae, clean["mae"]))}
    ped = [r["pediatric"] for r in runs]
    return {"clean": clean, "degraded": degraded,
            "mean_rel_degradation_pct": _r(mean_rel_degradation(clean["mae"], degraded)),
            "mean_rel_degradation_pct_std": _std([r["mean_rel_degradation_pct"] for r in runs]),
            "pediatric": {"mae": _r(np.mean(ped)), "mae_std": _std(ped)}}


def train_mean_constant(truth: dict[str, np.ndarray], train_ef: np.ndarray) -> dict:
    """The floor: every test clip predicted as the train split's mean EF, an input-free answer. Its MAE is
    the same under every adult condition (the same clips); a probe near it has lost EF, and a probe that
    falls to it under a degradation has degraded by its distance from it, whatever it learned."""
    ef = float(np.mean(train_ef))
    constant = lambda c: np.full_like(truth[c], ef, dtype=np.float64)
    return {"ef": _r(ef), "clean": {k: _r(v) for k, v in regression_metrics(constant("clean"), truth["clean"]).items()},
            "pediatric": {"mae": _r(regression_metrics(constant("pediatric"), truth["pediatric"])["mae"])}}


def _seed_runs(truth: dict[str, np.ndarray], preds: dict, keys: list, infos: list[dict]) -> list[dict]:
    """One probe per seed: its numbers, its seed, its training length and its val metrics."""
    runs = [_per_probe(truth, preds[key]) for key in keys]
    for run, info in zip(runs, infos):
        run.update(seed=info["seed"], epochs=info["epochs"], best_epoch=info["best_epoch"],
                   val={k: _r(v) for k, v in info["val"].items()})
    return runs


def summarise(truth: dict[str, np.ndarray], preds: dict[str, dict], families: dict[str, str], probes,
              seeds: list[int]) -> dict:
    """results.json's "models": per model the attentive probe's mean/std over seeds, each seed's own
    numbers ("probe_seeds"), the linear probe ("linear_probe"), and the beat view ("beat_probe": the
    attentive probe on each token beside its change over the beat, mean/std over seeds and each seed's
    numbers). `probes`: model_zoo.evaluate.run.Probes (its infos)."""
    models = {}
    for name, family in families.items():
        runs = _seed_runs(truth, preds[name], seeds, probes.infos[name])
        beat = _seed_runs(truth, preds[name], [("beat", s) for s in seeds], probes.beat_infos[name])
        lin = probes.linear_infos[name]
        linear = {**_block([_per_probe(truth, preds[name]["linear"])]), "alpha": lin["alpha"],
                  "val": {k: _r(v) for k, v in lin["val"].items()}}
        models[name] = {"family": family, **_block(runs), "probe_seeds": runs, "linear_probe": linear,
                        "beat_probe": {**_block(beat), "probe_seeds": beat}}
    return models
