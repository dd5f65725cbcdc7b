"""The per-layer probe diagnostic (model_zoo.experiments.layer_probe): one row per layer output, the
val clips scored under each asked condition, and unknown conditions refused by name."""
import json
from pathlib import Path

import numpy as np
import pytest

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.experiments.layer_probe import main, parse_conditions


def test_conditions_are_parsed_and_unknown_ones_named():
    assert parse_conditions("") == ()
    assert parse_conditions("benchmark") == tuple(BENCHMARK_CONDITIONS)
    assert parse_conditions("shadow_high,gain_med") == ("shadow_high", "gain_med")
    with pytest.raises(SystemExit, match="fog_heavy"):
        parse_conditions("shadow_high,fog_heavy")


@pytest.mark.slow
def test_every_layer_is_scored_clean_and_degraded_on_val(smoke_models, tmp_path, capsys):
    smoke_jepa = smoke_models[0]
    main(["--models", smoke_jepa, "--out", str(tmp_path), "--n-train", "16", "--n-val", "8",
          "--conditions", "shadow_high,depth_attenuation_2.15", "--no-random", "--threads", "1"])
    out = json.loads((tmp_path / "layer_probe.json").read_text())
    assert out["split"] == "val" and out["conditions"] == ["shadow_high", "depth_attenuation_2.15"]
    (name, rows), = out["layers"].items()                                # --no-random: one model
    config = json.loads((Path(smoke_jepa) / "config.json").read_text())
    assert [r["layer"] for r in rows] == list(range(config["num_hidden_layers"] + 1))
    for r in rows:
        assert set(r["degraded"]) == {"shadow_high", "depth_attenuation_2.15"}
        rel = np.mean([100 * (r["degraded"][c] - r["mae"]) / r["mae"] for c in r["degraded"]])
        assert r["mean_rel_degradation_pct"] == pytest.approx(rel, abs=0.06)
    table = capsys.readouterr().out
    assert f"| {name} mean degradation |" in table
