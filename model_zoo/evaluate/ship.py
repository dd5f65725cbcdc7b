"""Write an evaluation out: results.json + results.md into a folder, and, for shipped models, the probes
beside the encoder (the issue's attentive probe and the beat view's), the results into its card, and
results.json into model_zoo/."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

from model_zoo.checkpoint import CARD, read_card
from model_zoo.evaluate.protocol import CHECK_CLIPS, held_out_splits, on_test_split
from model_zoo.evaluate.run import Evaluation
from model_zoo.evaluate.summary import best_on_val
from model_zoo.evaluate.table import render_markdown
from model_zoo.features import split_seeds
from model_zoo.probe_io import BEAT_PROBE, save_probe
from model_zoo.registry import SHIPPED

ZOO_RESULTS = Path(__file__).resolve().parents[1] / "results.json"


def write_results(ev: Evaluation, out: str | Path) -> Path:
    """out/results.json, out/results.md and out/predictions.csv. -> out/results.json"""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(ev.results, indent=1))
    (out / "results.md").write_text(render_markdown(ev.results))
    write_predictions(ev, out / "predictions.csv")
    return out / "results.json"


def _probe_column(model: str, key) -> str:
    """'jepa-small attentive seed 0', '... beat seed 0', '... linear' for a probe key of Evaluation.preds."""
    if key == "linear":
        return f"{model} linear"
    return f"{model} beat seed {key[1]}" if isinstance(key, tuple) else f"{model} attentive seed {key}"


def write_predictions(ev: Evaluation, path: Path) -> Path:
    """One row per test clip and condition: its clip seed (model_zoo.features.split_seeds: the clip can be
    rendered again), its true EF and every probe's EF in %, so a table's number can be checked clip by clip,
    bootstrapped or split another way."""
    columns = [(model, key) for model, by_key in ev.preds.items() for key in by_key]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["condition", "clip_seed", "true_ef", *(_probe_column(m, k) for m, k in columns)])
        adult, child = held_out_splits(ev.results)
        for condition, truth in ev.truth.items():
            seeds = split_seeds(child if condition == "pediatric" else adult, len(truth))
            for i, (seed, ef) in enumerate(zip(seeds, truth)):
                w.writerow([condition, seed, f"{ef:.2f}",
                            *(f"{ev.preds[m][k][condition][i]:.2f}" for m, k in columns)])
    return path


def seed_runs(ev: Evaluation, name: str, view: str = "attentive") -> list[dict]:
    """Each probe seed's numbers of one view: 'attentive' (the issue's probe) or 'beat' (the beat view)."""
    model = ev.results["models"][name]
    return model["probe_seeds"] if view == "attentive" else model["beat_probe"]["probe_seeds"]


def best_seed(ev: Evaluation, name: str, view: str = "attentive") -> int:
    """Index of the probe seed with the lowest val MAE in one view (see seed_runs)."""
    return best_on_val(seed_runs(ev, name, view))


def _ship_probe(ev: Evaluation, name: str, folder: Path, view: str) -> dict:
    """Save the best-on-val probe of one view beside the encoder, with its own test numbers and its
    predictions on the first CHECK_CLIPS clean test clips (so a test can check it reproduces).
    -> its test numbers, for the card."""
    r, k = ev.results, best_seed(ev, name, view)
    run = seed_runs(ev, name, view)[k]
    seed = run["seed"]
    pred = ev.preds[name][seed if view == "attentive" else ("beat", seed)]["clean"]
    n = min(CHECK_CLIPS, len(ev.truth["clean"]))
    check = {"clip_seeds": split_seeds("test", n), "ef_true": ev.truth["clean"][:n].round(4).tolist(),
             "ef_pred": pred[:n].round(4).tolist(),
             "mae": round(float(np.abs(pred[:n] - ev.truth["clean"][:n]).mean()), 4)}
    test = {"clean": run["clean"], "degraded": run["degraded"], "pediatric": run["pediatric"],
            "mean_rel_degradation_pct": run["mean_rel_degradation_pct"], "n": r["n"]}
    meta = {"encoder": name, "family": r["models"][name]["family"], "seed": seed, "val": run["val"], "test": test,
            "check": check, "protocol": r["protocol"]}
    if view == "attentive":
        save_probe(ev.probes[name][k], folder, meta)
    else:
        save_probe(ev.beat_probes[name][k], folder, meta, stem=BEAT_PROBE)
    return {"seed": seed, **test}


def ship(ev: Evaluation, results_json: str | Path, shipped_root: Path = SHIPPED,
         zoo_results: Path = ZOO_RESULTS) -> list[Path]:
    """For each evaluated model whose folder lies under shipped_root: save its best-on-val attentive
    probe (probe.safetensors + probe.json) and its best-on-val beat-view probe (beat_probe.safetensors +
    beat_probe.json), each with its own test numbers and check predictions, and put the results into its
    card under "results". If any was, copy results_json to zoo_results. -> the model folders written. Only a run
    on the test split: the shipped probes' check clips and the cards' numbers are the test split's."""
    written = []
    r = ev.results
    if not on_test_split(r):
        raise ValueError(f"a run on the {r['held_out']} split is not shipped: the shipped probes and cards hold the "
                         "test split's numbers")
    for name, folder in ev.folders.items():
        if not Path(folder).resolve().is_relative_to(Path(shipped_root).resolve()):
            continue
        shipped = _ship_probe(ev, name, folder, "attentive")
        shipped_beat = _ship_probe(ev, name, folder, "beat")
        card = read_card(folder) or {}
        card["results"] = {**r["models"][name], "shipped_probe": shipped, "shipped_beat_probe": shipped_beat,
                           "n": r["n"], "n_train": r["n_train"], "n_val": r["n_val"], "seed": r["seed"],
                           "protocol": r["protocol"]}
        (Path(folder) / CARD).write_text(json.dumps(card, indent=1))
        written.append(Path(folder))
    if written:
        shutil.copyfile(results_json, zoo_results)
    return written
