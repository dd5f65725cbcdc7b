"""Every pretrained row of every committed evaluation on one table, and the trade-off they sit on.

    python -m model_zoo.experiments.scoreboard [--results model_zoo/experiments/*_results.json ...] [--out FILE]

RECIPES.md reads recipes run by run; this puts every JEPA and MAE row of the committed results.json files
side by side, each beside its own run's untrained-encoder and pixel rows (a run's fingerprint: rows whose
baselines differ were measured on other crops, so compare within a protocol; a run of gain-normalised models
also shows its gain-normalised pixel row, what those models' input holds), with the mean MAE over the six
benchmark conditions, and the evaluation's beat view where the run had it (model_zoo.evaluate's third
view; runs before 2026-12-03 did not). Below the table, across the JEPA rows, the rank correlation of clean EF MAE with the
mean relative degradation and with the benchmark mean: a strong negative first and a weak second say the
recipes trade clean EF for a smaller *relative* loss without getting better under degradation.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from scipy.stats import spearmanr

from model_zoo.plot_style import FAMILY_COLOURS, TEMPLATE
from model_zoo.evaluate.format import plus_minus
from model_zoo.evaluate.protocol import on_test_split
from model_zoo.evaluate.summary import benchmark_mean

EXPERIMENTS = Path(__file__).resolve().parent
PRETRAINED = ("jepa", "mae")
PREPRINT_DEGRADATION = 2.3      # EchoJEPA-G's mean relative degradation, % (theirs)


def beat_view_of(model: dict) -> dict | None:
    """The beat view's clean MAE, its std and mean relative degradation (results.json "beat_probe"), or None
    for a file written before the evaluation had it."""
    b = model.get("beat_probe")
    if b is None:
        return None
    return {"clean": b["clean"]["mae"], "clean_std": b["clean"]["mae_std"], "degradation": b["mean_rel_degradation_pct"]}


def rows_of(path: Path, families: tuple[str, ...] = PRETRAINED) -> list[dict]:
    """One row per model of these families in a results.json (default JEPA and MAE), with its run's
    baselines. None from a confirmation run (--confirm): its models are on the board from their test runs, and
    its hearts are not the test split the rows compare on."""
    results = json.loads(Path(path).read_text())
    models = results.get("models")
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{path} has no 'models' table; is it a results.json of python -m model_zoo.evaluate?")
    if not on_test_split(results):
        return []
    missing = [b for b in ("random", "pixels") if b not in models]
    if missing:
        raise ValueError(f"{path} has no {' or '.join(missing)} row to fingerprint its protocol with")
    base = {b: models[b]["clean"]["mae"] for b in ("random", "pixels")}
    normalised = {name: m["clean"]["mae"] for name, m in models.items()            # e.g. pixels_gain_norm_0.05
                  if m["family"] == "pixels" and name.startswith("pixels_gain_norm")}
    floor = (results.get("train_mean_constant") or {}).get("clean", {}).get("mae")   # older files have none
    rows = []
    for name, m in models.items():
        if m["family"] not in families:
            continue
        rows.append({"run": Path(path).stem.removesuffix("_results"), "model": name, "family": m["family"],
                     "clean": m["clean"]["mae"], "clean_std": m["clean"].get("mae_std", 0.0),
                     "degradation": m["mean_rel_degradation_pct"], "pediatric": m["pediatric"]["mae"],
                     "benchmark_mean": benchmark_mean(m), "random": base["random"], "pixels": base["pixels"],
                     "pixels_normalised": normalised, "floor": floor, "beat": beat_view_of(m),
                     "random_beat": beat_view_of(models["random"])})
    return rows


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (scipy's; ties share their mean rank)."""
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"a rank correlation needs at least 3 pairs; got {len(x)} and {len(y)} values")
    if len(set(x)) == 1 or len(set(y)) == 1:
        raise ValueError("a rank correlation needs values that differ")
    return float(spearmanr(x, y).statistic)


def jepa_correlations(rows: list[dict]) -> tuple[int, float, float] | None:
    """(JEPA rows, rank correlation of their clean EF MAE with the mean relative degradation, and with the
    benchmark mean MAE), or None under 3 JEPA rows."""
    jepa = [r for r in rows if r["family"] == "jepa"]
    if len(jepa) < 3:
        return None
    clean = [r["clean"] for r in jepa]
    return (len(jepa), spearman(clean, [r["degradation"] for r in jepa]),
            spearman(clean, [r["benchmark_mean"] for r in jepa]))


def baselines(row: dict) -> str:
    """The run's untrained and pixel rows' clean MAE, with its gain-normalised pixel rows where it has them."""
    normalised = "".join(f" ({v:.2f} {k.removeprefix('pixels_')})" for k, v in sorted(row.get("pixels_normalised", {}).items()))
    return f"{row['random']:.2f} / {row['pixels']:.2f}{normalised}"


def beat_cell(row: dict) -> str:
    """The beat view's clean MAE and degradation beside the run's untrained encoder's, or why there is none."""
    b, r = row.get("beat"), row.get("random_beat")
    if b is None:
        return "not measured (older run)"
    return f"{plus_minus(b['clean'], b['clean_std'])}, {b['degradation']:+.1f}% (untrained {r['clean']:.2f})"


def render(rows: list[dict]) -> str:
    """The markdown table, grouped by protocol (the run's pixel row) and sorted by clean MAE, and the
    JEPA rows' rank correlations."""
    header = ["run", "model", "clean EF MAE", "mean rel. degradation", "benchmark mean MAE", "pediatric",
              "run's random / pixels clean (gain-normalised pixels)", "beat view: clean, degradation"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in sorted(rows, key=lambda r: (-r["pixels"], r["clean"])):
        lines.append("| " + " | ".join([
            r["run"], r["model"], plus_minus(r["clean"], r["clean_std"]), f"{r['degradation']:+.1f}%",
            f"{r['benchmark_mean']:.2f}", f"{r['pediatric']:.2f}", baselines(r), beat_cell(r)]) + " |")
    rho = jepa_correlations(rows)
    if rho:
        lines += ["", f"Across the {rho[0]} JEPA rows, Spearman's rank correlation of clean EF MAE with the mean "
                      f"relative degradation: {rho[1]:+.2f}; with the benchmark mean MAE: {rho[2]:+.2f}."]
    return "\n".join(lines) + "\n"


def committed_files() -> list[Path]:
    """Every committed model_zoo/experiments/*_results.json, in name order."""
    return sorted(EXPERIMENTS.glob("*_results.json"))


def committed_rows(families: tuple[str, ...] = PRETRAINED) -> list[dict]:
    """The rows of every committed results.json (committed_files)."""
    return [row for path in committed_files() for row in rows_of(path, families)]


def scoreboard_figure(rows: list[dict], shipped: dict[str, dict] | None = None) -> tuple[go.Figure, str]:
    """Clean EF MAE against mean relative degradation, one point per row, a trace per family (untrained
    and pixel rows once per distinct value: runs on one protocol repeat them), the preprint's +2.3% and the
    train-mean floor drawn: the trade-off every recipe has sat on. shipped: the models the app runs, from
    model_zoo/results.json's 'models' ({name: that model's entry}), ringed and named. -> (figure, caption)"""
    fig = go.Figure()
    for family, colour in FAMILY_COLOURS.items():
        mine = [r for r in rows if r["family"] == family]
        if family not in PRETRAINED:
            mine = list({(round(r["clean"], 2), round(r["degradation"], 1)): r for r in mine}.values())
        if not mine:
            continue
        fig.add_trace(go.Scatter(
            x=[r["clean"] for r in mine], y=[r["degradation"] for r in mine], mode="markers",
            name=f"{family.upper()} ({len(mine)} runs)" if family in PRETRAINED else
                 {"random": "untrained encoder", "pixels": "pixels (raw or gain-normalised)"}[family],
            marker=dict(color=colour, size=9, opacity=0.8, symbol="circle" if family in PRETRAINED else "x"),
            text=[f"{r['model']}<br>run {r['run']}<br>benchmark mean {r['benchmark_mean']:.2f}, pediatric "
                  f"{r['pediatric']:.2f}<br>that run's untrained encoder {r['random']:.2f}" for r in mine],
            hovertemplate="%{text}<br>clean %{x:.2f}, %{y:+.1f}%<extra></extra>"))
    shipped = {n: m for n, m in (shipped or {}).items() if m.get("family") in PRETRAINED}
    if shipped:
        fig.add_trace(go.Scatter(
            x=[m["clean"]["mae"] for m in shipped.values()], y=[m["mean_rel_degradation_pct"] for m in shipped.values()],
            mode="markers+text", name="shipped (the app's models)", text=list(shipped), textposition="top center",
            marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color="black", width=2)),
            hovertemplate="%{text} (shipped)<br>clean %{x:.2f}, %{y:+.1f}%<extra></extra>"))
    # labelled at the left, the corner it stands for (at the right it sat on our runs at the floor)
    fig.add_hline(y=PREPRINT_DEGRADATION, line=dict(color="#555", dash="dot"),
                  annotation_text="EchoJEPA-G +2.3% (theirs)", annotation_position="bottom left")
    floors = [r["floor"] for r in rows if r.get("floor") is not None]
    if floors:                                  # the train-mean constant's clean MAE (runs that report it)
        fig.add_vline(x=float(np.median(floors)), line=dict(color="#555", dash="dash"),
                      annotation_text="floor: every clip given the mean EF", annotation_position="top left")
    fig.update_layout(template=TEMPLATE, xaxis_title="clean EF MAE (EF points; lower is better)",
                      yaxis_title="mean relative degradation, %",
                      height=420, margin=dict(l=60, r=20, t=30, b=100),
                      legend=dict(orientation="h", y=-0.25, x=0))
    rho = jepa_correlations(rows)
    rho = f" Across the {rho[0]} JEPA runs the rank correlation is {rho[1]:+.2f}." if rho else ""
    caption = ("Every pretrained model the team evaluated (model_zoo/RECIPES.md), one point each: how well its "
               "probe reads EF from clean clips (left is better) against how much of that it loses on degraded "
               f"ones (lower is better).{rho} A model that reads EF well loses more of it, and one that loses "
               "little started near the floor (every clip given the mean EF); none reaches the preprint's "
               "corner, and the untrained encoder (grey) sits at the end that reads EF best. Runs of different "
               "dates used slightly different crops, so compare neighbours loosely.")
    return fig, caption


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.experiments.scoreboard", description=__doc__.split("\n")[0])
    ap.add_argument("--results", nargs="+", type=Path,
                    default=committed_files(),
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
