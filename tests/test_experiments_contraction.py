"""contraction: the probe-free ED-to-ES measure, per layer, for any model folder beside its untrained draw."""
import json

import pytest
import torch

import model_zoo.experiments.contraction as contraction


def test_beat_changes_reads_the_ed_and_es_slots_against_every_pair():
    """Tokens that change only between two slots: ed_es is that change when those are the ED and ES slots,
    0 for two still slots, and any_pair averages the change over all pairs of slots."""
    torch.manual_seed(0)
    t_slots, places, d = 4, 3, 8
    still, moved = torch.randn(places, d), torch.randn(places, d)
    tokens = torch.stack([still, still, moved, still]).reshape(-1, d)         # slot 2 differs
    z = torch.nn.functional.layer_norm(torch.stack([still, moved]), (d,))
    step = (z[0] - z[1]).pow(2).mean().item()
    ed_es, any_pair = contraction.beat_changes(tokens, t_slots, 0, 2)
    assert ed_es == pytest.approx(step, rel=1e-5)
    assert contraction.beat_changes(tokens, t_slots, 0, 1)[0] == pytest.approx(0.0, abs=1e-9)
    assert any_pair == pytest.approx(step * 3 / 6, rel=1e-5)              # 3 of the 6 pairs touch slot 2


def test_every_layer_of_each_model_and_its_draw(smoke_models, tmp_path, monkeypatch):
    monkeypatch.setattr(contraction, "HEARTS", 6)
    jepa, mae = smoke_models
    out_file = tmp_path / "contraction.json"
    contraction.main(["--models", f"j={jepa},m={mae}", "--out", str(out_file)])
    out = json.loads(out_file.read_text())
    assert out["split"] == "val" and out["hearts"] == 6
    assert set(out["models"]) == {"j", "m", "j untrained", "m untrained"}
    for rows in out["models"].values():
        assert [r["layer"] for r in rows] == [0, 1, 2]                       # smoke: embedding + 2 blocks
        for r in rows:
            assert -1 <= r["rho_ef"] <= 1 and r["ed_es"] > 0 and r["any_pair"] > 0
    assert out["models"]["m"][-1]["ed_es"] != out["models"]["m untrained"][-1]["ed_es"]
