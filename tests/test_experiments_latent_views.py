"""latent_views: speckle ratio for JEPA and MAE folders alike, each beside its untrained draw; the
latent-prediction measures for JEPAs only."""
import json

import pytest

from model_zoo.experiments.latent_views import main


def test_both_families_and_their_untrained_draws(smoke_models, tmp_path):
    jepa, mae = smoke_models
    out_file = tmp_path / "views.json"
    main(["--models", f"j={jepa},m={mae}", "--out", str(out_file)])
    out = json.loads(out_file.read_text())
    assert set(out["speckle"]) == {"j", "m", "j untrained", "m untrained"}
    for s in out["speckle"].values():
        assert s["ratio"] == pytest.approx(s["within"] / s["between"], rel=1e-4) and s["ratio"] > 0
    assert out["speckle"]["m"]["ratio"] != out["speckle"]["m untrained"]["ratio"]   # trained weights differ
    assert "jepa_prediction" in out["j"] and "m" not in out                        # no latent prediction for an MAE
