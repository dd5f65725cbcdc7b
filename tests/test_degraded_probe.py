"""The degraded-probe diagnostic (model_zoo.experiments.degraded_probe): per encoder and condition, the
clean-trained probe on degraded val clips and a probe retrained on them, beside the train-mean floor."""
import json

import numpy as np
import pytest

from model_zoo.experiments.degraded_probe import main
from model_zoo.features import ClipBank


def test_pixels_are_scored_shifted_and_retrained_beside_the_floor(tmp_path, capsys):
    main(["--out", str(tmp_path), "--n-train", "16", "--n-val", "8", "--conditions", "shadow_high,gain_med",
          "--frames", "8", "--size", "64", "--threads", "1"])
    out = json.loads((tmp_path / "degraded_probe.json").read_text())
    assert out["split"] == "val" and out["conditions"] == ["shadow_high", "gain_med"]
    (name, r), = out["models"].items()                                   # no --models: pixels only
    assert name == "pixels" and r["clean"] > 0
    assert all(r[c]["shifted"] > 0 and r[c]["retrained"] > 0 for c in out["conditions"])
    bank = ClipBank(8, 64)
    floor = np.abs(bank.ef("val", 8) - bank.ef("train", 16).mean()).mean()
    assert out["floor_train_mean_mae"] == pytest.approx(floor, abs=1e-3)
    assert "| pixels |" in capsys.readouterr().out


def test_unknown_conditions_are_named():
    with pytest.raises(SystemExit, match="fog"):
        main(["--out", "unused", "--conditions", "fog"])


def test_gain_normalised_pixels_are_scored_beside_the_raw_ones(tmp_path):
    main(["--out", str(tmp_path), "--n-train", "16", "--n-val", "8", "--conditions", "depth_attenuation_2.15",
          "--frames", "8", "--size", "64", "--threads", "1", "--pixel-gain-norm", "0.05"])
    models = json.loads((tmp_path / "degraded_probe.json").read_text())["models"]
    assert list(models) == ["pixels", "pixels_gain_norm_0.05"]
    raw, normalised = models.values()
    assert raw["depth_attenuation_2.15"]["shifted"] != normalised["depth_attenuation_2.15"]["shifted"]
