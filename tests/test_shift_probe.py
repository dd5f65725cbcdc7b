"""The shift diagnostic (model_zoo.experiments.shift_probe): both probes of every encoder scored at each shift,
and how far a clip's EF moves measured against the unshifted input's."""
import json

import numpy as np
import pytest
import torch

from model_zoo.evaluate.run import resolve_model
from model_zoo.experiments.shift_probe import main, scores
from model_zoo.features import Features


class _Row:
    """A stand-in probe: predicts the mean of each clip's first token."""
    def __call__(self, tokens):
        return tokens.float()[:, 0].mean(-1)


def test_scores_measure_each_shifts_error_and_the_largest_move(monkeypatch):
    import model_zoo.experiments.shift_probe as sp
    monkeypatch.setattr(sp, "predict_tokens", lambda probe, tokens: probe(tokens).numpy())
    ef = np.array([50.0, 60.0])
    at = lambda values: Features(torch.tensor(values, dtype=torch.float16)[:, None, None].expand(2, 1, 3), None, ef)
    val = {-2: at([48.0, 60.0]), 0: at([50.0, 61.0]), 2: at([53.0, 57.0])}
    s = scores(_Row(), val, 2)
    assert s["val_mae"] == {"-2": 1.0, "0": 0.5, "2": 3.0}
    assert s["val_mae_mean_of_shifts"] == pytest.approx((abs(151 / 3 - 50) + abs(178 / 3 - 60)) / 2, abs=1e-3)
    assert s["moves_mean"] == pytest.approx(3.5) and s["moves_p90"] == pytest.approx(3.9)   # moves 3 and 4


@pytest.mark.slow
def test_both_probes_of_every_encoder_are_scored_at_each_shift(smoke_models, tmp_path):
    main(["--models", smoke_models[0], "--out", str(tmp_path), "--n-train", "16", "--n-val", "8", "--threads", "1"])
    out = json.loads((tmp_path / "shift_probe.json").read_text())
    assert out["split"] == "val" and out["pixels"] == 2
    assert set(out["results"]) == {resolve_model(smoke_models[0])[1], "pixels"}
    for by_kind in out["results"].values():
        for r in by_kind.values():
            assert set(r["val_mae"]) == {"-2", "0", "2"} and 0 <= r["moves_mean"] <= r["moves_p90"] + 1e-9
