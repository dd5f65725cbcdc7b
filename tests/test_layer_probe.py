"""The per-layer probe diagnostic (model_zoo.experiments.layer_probe): one row per layer output, the
val clips scored under each asked condition, unknown conditions refused by name, and the other targets
it can read (phantom parameters, lengths as shares of the depth) taken from the clips' own draws."""
import json
from pathlib import Path

import numpy as np
import pytest

from echo.degrade import BENCHMARK_CONDITIONS
from echo.phantom import sample_params
from model_zoo.experiments.layer_probe import main, parse_conditions, phantom_targets
from model_zoo.features import ClipBank, split_seeds


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


def test_probe_targets_are_the_rendered_clips_own_parameters():
    ef = ClipBank(frames=16, size=64).ef("val", 3)                      # read from the rendered clips
    assert np.allclose(ef, [sample_params(s, "adult").ef for s in split_seeds("val", 3)])   # the same draw
    size = phantom_targets("pediatric", 4, "lv_length_cm")
    assert len(set(size.round(6))) == 4 and size.max() < 8.4 * 0.75 + 1e-9   # pediatric hearts, one each
    with pytest.raises(ValueError, match="speckle_corr.*every val clip"):   # a constant of the phantom
        phantom_targets("val", 3, "speckle_corr")
    with pytest.raises(ValueError, match="unknown probe target 'heart_size'"):
        phantom_targets("val", 3, "heart_size")


def test_a_target_with_nothing_to_read_is_refused_before_any_model_loads(tmp_path):
    with pytest.raises(SystemExit, match="speckle_corr.*every train clip"):
        main(["--models", str(tmp_path / "no_such_model"), "--out", str(tmp_path / "out"), "--target", "speckle_corr"])
    assert not (tmp_path / "out").exists()


def test_share_targets_are_lengths_over_the_imaging_depth():
    share = phantom_targets("train", 3, "lv_length_share")
    params = [sample_params(s, "adult") for s in split_seeds("train", 3)]
    assert np.allclose(share, [p.lv_length_cm / p.depth_cm for p in params]) and np.all(share < 1)
