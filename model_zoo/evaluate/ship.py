"""Write an evaluation out: results.json + results.md into a folder, and, for shipped models, the
probe beside the encoder, the results into its card, and results.json into model_zoo/."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from model_zoo.checkpoint import CARD, read_card
from model_zoo.evaluate.protocol import CHECK_CLIPS
from model_zoo.evaluate.run import Evaluation
from model_zoo.evaluate.table import render_markdown
from model_zoo.features import split_seeds
from model_zoo.probes import save_probe
from model_zoo.registry import SHIPPED

ZOO_RESULTS = Path(__file__).resolve().parents[1] / "results.json"


def write_results(ev: Evaluation, out: str | Path) -> Path:
    """out/results.json and out/results.md. -> out/results.json"""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(ev.results, indent=1))
    (out / "results.md").write_text(render_markdown(ev.results))
    return out / "results.json"


def best_seed(ev: Evaluation, name: str) -> int:
    """Index of the probe seed with the lowest val MAE."""
    return int(np.argmin([run["val"]["mae"] for run in ev.results["models"][name]["probe_seeds"]]))


def ship(ev: Evaluation, results_json: str | Path, shipped_root: Path = SHIPPED,
         zoo_results: Path = ZOO_RESULTS) -> list[Path]:
    """For each evaluated model whose folder lies under shipped_root: save its best-on-val attentive
    probe (probe.safetensors + probe.json, with its own test numbers and its predictions on the first
    CHECK_CLIPS clean test clips, so a test can check it reproduces), and put the results into its
    card under "results". If any was, copy results_json to zoo_results. -> the model folders written."""
    written = []
    r = ev.results
    for name, folder in ev.folders.items():
        if not Path(folder).resolve().is_relative_to(Path(shipped_root).resolve()):
            continue
        k = best_seed(ev, name)
        model, run = r["models"][name], r["models"][name]["probe_seeds"][k]
        seed = run["seed"]
        n = min(CHECK_CLIPS, len(ev.truth["clean"]))
        check = {"clip_seeds": split_seeds("test", n), "ef_true": ev.truth["clean"][:n].round(4).tolist(),
                 "ef_pred": ev.preds[name][seed]["clean"][:n].round(4).tolist(),
                 "mae": round(float(np.abs(ev.preds[name][seed]["clean"][:n] - ev.truth["clean"][:n]).mean()), 4)}
        meta = {"encoder": name, "family": model["family"], "seed": seed, "val": run["val"],
                "test": {"clean": run["clean"], "degraded": run["degraded"], "pediatric": run["pediatric"],
                         "mean_rel_degradation_pct": run["mean_rel_degradation_pct"], "n": r["n"]},
                "check": check, "protocol": r["protocol"]}
        save_probe(ev.probes[name][k], folder, meta)
        card = read_card(folder) or {}
        card["results"] = {**model, "shipped_probe": {"seed": seed, **meta["test"]}, "n": r["n"],
                           "n_train": r["n_train"], "n_val": r["n_val"], "seed": r["seed"], "protocol": r["protocol"]}
        (Path(folder) / CARD).write_text(json.dumps(card, indent=1))
        written.append(Path(folder))
    if written:
        shutil.copyfile(results_json, zoo_results)
    return written
