"""Every pretrained row of every committed evaluation on one table, and the trade-off they sit on.

    python -m model_zoo.experiments.scoreboard [--results model_zoo/experiments/*_results.json ...] [--out FILE]

RECIPES.md reads recipes run by run; this puts every JEPA and MAE row of the committed results.json files
side by side, each beside its own run's untrained-encoder and pixel rows (a run's fingerprint: rows whose
baselines differ were measured on other crops, so compare within a protocol), with the mean MAE over the six
benchmark conditions. Below the table, across the JEPA rows, the rank correlation of clean EF MAE with the
mean relative degradation and with the benchmark mean: a strong negative first and a weak second say the
recipes trade clean EF for a smaller *relative* loss without getting better under degradation.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.evaluate.claims import plus_minus

EXPERIMENTS = Path(__file__).resolve().parent
PRETRAINED = ("jepa", "mae")


def benchmark_mean(model: dict) -> float:
    """Mean EF MAE over the six benchmark conditions of one results.json model entry."""
    return float(np.mean([model["degraded"][c]["mae"] for c in BENCHMARK_CONDITIONS]))


def rows_of(path: Path) -> list[dict]:
    """One row per JEPA or MAE model of a results.json, with its run's baselines."""
    results = json.loads(Path(path).read_text())
    models = results.get("models")
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{path} has no 'models' table; is it a results.json of python -m model_zoo.evaluate?")
    missing = [b for b in ("random", "pixels") if b not in models]
    if missing:
        raise ValueError(f"{path} has no {' or '.join(missing)} row to fingerprint its protocol with")
    base = {b: models[b]["clean"]["mae"] for b in ("random", "pixels")}
    rows = []
    for name, m in models.items():
        if m["family"] not in PRETRAINED:
            continue
        rows.append({"run": Path(path).stem.removesuffix("_results"), "model": name, "family": m["family"],
                     "clean": m["clean"]["mae"], "clean_std": m["clean"].get("mae_std", 0.0),
                     "degradation": m["mean_rel_degradation_pct"], "pediatric": m["pediatric"]["mae"],
                     "benchmark_mean": benchmark_mean(m), "random": base["random"], "pixels": base["pixels"]})
    return rows


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (scipy's; ties share their mean rank)."""
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"a rank correlation needs at least 3 pairs; got {len(x)} and {len(y)} values")
    if len(set(x)) == 1 or len(set(y)) == 1:
        raise ValueError("a rank correlation needs values that differ")
    return float(spearmanr(x, y).statistic)


def render(rows: list[dict]) -> str:
    """The markdown table, grouped by protocol (the run's pixel row) and sorted by clean MAE, and the
    JEPA rows' rank correlations."""
    header = ["run", "model", "clean EF MAE", "mean rel. degradation", "benchmark mean MAE", "pediatric",
              "run's random / pixels clean"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in sorted(rows, key=lambda r: (-r["pixels"], r["clean"])):
        lines.append("| " + " | ".join([
            r["run"], r["model"], plus_minus(r["clean"], r["clean_std"]), f"{r['degradation']:+.1f}%",
            f"{r['benchmark_mean']:.2f}", f"{r['pediatric']:.2f}", f"{r['random']:.2f} / {r['pixels']:.2f}"]) + " |")
    jepa = [r for r in rows if r["family"] == "jepa"]
    if len(jepa) >= 3:
        clean = [r["clean"] for r in jepa]
        lines += ["", f"Across the {len(jepa)} JEPA rows, Spearman's rank correlation of clean EF MAE with the mean "
                      f"relative degradation: {spearman(clean, [r['degradation'] for r in jepa]):+.2f}; with the "
                      f"benchmark mean MAE: {spearman(clean, [r['benchmark_mean'] for r in jepa]):+.2f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.scoreboard", description=__doc__.split("\n")[0])
    ap.add_argument("--results", nargs="+", type=Path,
                    default=sorted(EXPERIMENTS.glob("*_results.json")),
                    help="results.json files (default: every committed model_zoo/experiments/*_results.json)")
    ap.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = ap.parse_args(argv)
    try:
        text = render([row for path in args.results for row in rows_of(path)])
    except (OSError, ValueError, KeyError) as e:
        ap.error(str(e))
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
