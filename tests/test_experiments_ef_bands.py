"""EF error by band of true and predicted EF (model_zoo.experiments.ef_bands), and the committed record the
prediction card reads."""
import json

import numpy as np
import pytest

from model_zoo.evaluate.bands import band_errors, band_of, recorded, weakest
from model_zoo.experiments import ef_bands
from model_zoo.probe_io import load_probe
from model_zoo.registry import SHIPPED


def test_bands_split_errors_by_the_ef_they_are_keyed_on():
    true = np.array([30.0, 45.0, 55.0, 75.0])
    pred = np.array([50.0, 47.0, 54.0, 60.0])                # low EF pulled up, high EF pulled down
    by_true = {tuple(r["band"]): r for r in band_errors(true, pred, true)}
    assert by_true[(0, 40)] == {"band": [0, 40], "n": 1, "mae": 20.0, "bias": 20.0}
    assert by_true[(70, 100)]["bias"] == -15.0 and by_true[(60, 70)] == {"band": [60, 70], "n": 0, "mae": None,
                                                                         "bias": None}
    by_pred = {tuple(r["band"]): r for r in band_errors(true, pred, pred)}
    assert by_pred[(40, 50)]["n"] == 1 and by_pred[(50, 60)] == {"band": [50, 60], "n": 2, "mae": 10.5, "bias": 9.5}
    assert sum(r["n"] for r in by_pred.values()) == len(true)
    assert band_of(100.0) == (70, 100) and band_of(39.99) == (0, 40)
    assert band_of(-3.0) == (0, 40) and band_of(120.0) == (70, 100)      # impossible EFs: the nearest band


def test_the_record_is_read_only_for_the_shipped_models_it_measured(tmp_path):
    record = {"models": {"jepa-small": {"probe": {"by_predicted_ef": [
        {"band": [0, 40], "n": 0, "mae": None, "bias": None}, {"band": [40, 100], "n": 9, "mae": 6.0, "bias": 2.0}]}}}}
    path = tmp_path / "ef_bands.json"
    path.write_text(json.dumps(record))
    assert recorded(SHIPPED / "jepa-small", "probe", 55.0, path)["mae"] == 6.0
    assert recorded(SHIPPED / "jepa-small", "probe", 30.0, path) is None           # no clip there
    assert recorded(SHIPPED / "jepa-small", "beat_probe", 55.0, path) is None
    assert recorded(tmp_path / "jepa-small", "probe", 55.0, path) is None           # not the shipped one
    assert recorded(None, "probe", 55.0, path) is None
    record["models"]["jepa-small"]["probe"]["by_true_ef"] = [{"band": [0, 40], "n": 5, "mae": 13.0, "bias": 12.0},
                                                             {"band": [40, 100], "n": 4, "mae": 5.0, "bias": -1.0}]
    path.write_text(json.dumps(record))
    assert weakest(SHIPPED / "jepa-small", "probe", path)["band"] == [0, 40]
    record["models"]["jepa-small"]["probe"]["by_true_ef"][0]["bias"] = 1.0     # the other band's bias the larger:
    record["models"]["jepa-small"]["probe"]["by_true_ef"][1]["bias"] = -3.9    # the weakest is by error, not bias
    path.write_text(json.dumps(record))
    assert weakest(SHIPPED / "jepa-small", "probe", path)["band"] == [0, 40]
    assert weakest(tmp_path / "jepa-small", "probe", path) is None


def test_the_committed_record_is_the_shipped_probes_on_the_benchmarks_test_clips():
    """Same clips and probes as the evaluation: each probe's overall MAE is its card's clean test MAE (threads
    move the last digits), and every band count adds up to the clips measured."""
    record = json.loads(ef_bands.OUT.read_text())
    for name, by_stem in record["models"].items():
        for stem, r in by_stem.items():
            card = load_probe(SHIPPED / name, stem=stem).meta["test"]["clean"]["mae"]
            assert r["mae"] == pytest.approx(card, abs=0.1), (name, stem)
            for key in ("by_true_ef", "by_predicted_ef"):
                assert sum(b["n"] for b in r[key]) == record["n"]

