"""The probe-protocol diagnostic (model_zoo.experiments.probe_protocol): unknown variants are refused by
name, and every variant scores every encoder (its probe inputs: tests/test_probe_inputs.py)."""
import json

import pytest

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.evaluate.run import resolve_model
from model_zoo.experiments.probe_protocol import VARIANTS, main


def test_unknown_variants_are_named():
    with pytest.raises(SystemExit, match="warp_speed"):
        main(["--models", "jepa-small", "--out", "unused", "--variants", "baseline,warp_speed"])


@pytest.mark.slow
def test_every_variant_scores_every_encoder_on_val(smoke_models, tmp_path):
    main(["--models", smoke_models[0], "--out", str(tmp_path), "--variants", "baseline,dim,beat",
          "--probe-seeds", "2", "--n-train", "16", "--n-val", "8", "--threads", "1"])
    out = json.loads((tmp_path / "probe_protocol.json").read_text())
    assert out["split"] == "val" and out["probe_seeds"] == [0, 1]
    assert out["variants"]["dim"]["standardise"] == "dim"
    assert out["variants"]["baseline"]["training"] == VARIANTS["baseline"][0].to_dict()
    assert out["variants"]["beat"]["standardise"] == "beat"
    for variant in ("baseline", "dim", "beat"):
        rows = out["results"][variant]
        assert set(rows) == {resolve_model(smoke_models[0])[1], "random", "pixels"}
        for r in rows.values():
            assert len(r["val_mae_seeds"]) == 2 and set(r["degraded"]) == set(BENCHMARK_CONDITIONS)
            assert r["val_mae"] == pytest.approx(sum(r["val_mae_seeds"]) / 2, abs=1e-3)
