"""The focus report's pieces: one phantom clip through every method of a tiny model, and the summary's
'better than random' rule."""
import numpy as np
import pytest

from builders import tiny_probe, tiny_wrapper
from explain.faithfulness import BETTER, NOT_BETTER
from explain.focus_report import (BEATS_CONTROL, CONTROL, METHODS, NOT_CONTROL, centre_map, markdown,
                                  phantom_case, run_clip, summarise)


def test_phantom_case_aligns_labels_with_the_model_input():
    x, gray, labels = phantom_case(4_000_000, 8, 64)
    assert x.shape == (1, 8, 3, 64, 64) and gray.shape == labels.shape == (8, 64, 64)
    assert gray[labels == 0].max() == 0                          # outside the labelled sector: black
    assert (gray[labels > 0] > 0).mean() > 0.8                   # inside: echo (dark cavities aside)
    assert 0.3 < (labels == 0).mean() < 0.7


@pytest.mark.slow
def test_run_clip_scores_every_method_and_shares_the_random_orders():
    rec = run_clip(tiny_wrapper("mae"), tiny_probe(), 0, steps=4, out=None)
    assert set(rec["methods"]) == {m[0] for m in METHODS} | {"feature_ablation (= occlusion)", CONTROL}
    chance = {e["chance_share"] for e in rec["methods"].values()}
    rand = {e["deletion_random_mean"] for e in rec["methods"].values()}
    assert len(chance) == 1 and 0 < chance.pop() < 1 and len(rand) == 1
    for e in rec["methods"].values():
        assert 0 <= e["focus_share"] <= 1 and np.isfinite(e["deletion_auc"]) and np.isfinite(e["insertion_auc"])
    no_probe = run_clip(tiny_wrapper("jepa"), None, 0, steps=4, out=None)
    assert set(no_probe["methods"]) == {"rollout (mean read-out)", "paper figure (last layer, received)", "pretext loss"}
    assert "deletion_auc" not in no_probe["methods"]["pretext loss"]


def record(clip, deletion, insertion):
    base = {"focus_share": 0.3, "chance_share": 0.2, "ratio": 1.5, "energy_pointing_game": 0.3,
            "pointing_game": 0.5, "outside_share": 0.0, "cpu_s": 1.0}
    return {"model": "m", "clip": clip, "methods": {"a": {**base, "deletion_auc": deletion, "deletion_random_mean": 5.0,
                                                          "insertion_auc": insertion, "insertion_random_mean": 5.0}}}


def test_summary_says_no_better_than_random_unless_two_standard_errors_clear():
    s = summarise([record(0, 6.0, 4.0), record(1, 6.2, 4.1), record(2, 5.9, 3.9)])["m"]["a"]
    assert s["deletion"]["verdict"] == BETTER and s["insertion"]["verdict"] == BETTER
    assert s["deletion"]["difference"][0] == pytest.approx(1.0333, abs=1e-3)
    s = summarise([record(0, 7.0, 6.0), record(1, 3.0, 3.0), record(2, 5.5, 5.5)])["m"]["a"]
    assert s["deletion"]["verdict"] == NOT_BETTER and s["insertion"]["verdict"] == NOT_BETTER
    table = markdown({"m": {"a": s}}, {"n": 3, "command": "c", "wall_s": 1.0, "threads": 1, "device": "cpu",
                                        "seeds": "0..2", "steps": 4})
    assert "no better than random" in table and "| m | a | 0.300 ± 0.000 |" in table


def test_a_recorded_verdict_is_found_only_for_a_map_made_as_the_report_made_it():
    """The app says whether a map was found faithful only where the committed report measured that map: the same
    method and every setting alike (IG at 16 steps, not the page's 32; feature ablation only at one block, which
    is occlusion; the paper figure at its last layer, received)."""
    import json
    from explain.focus_report import RECORD, recorded_verdicts
    summary = json.loads(RECORD.read_text())["summary"]["jepa-small"]
    verdict = lambda label: ({m: summary[label][m]["verdict"] for m in ("deletion", "insertion")}, summary[label]["n"])
    assert recorded_verdicts("jepa-small", "integrated_gradients", {"n_steps": 16}) == verdict("integrated_gradients")
    assert recorded_verdicts("jepa-small", "integrated_gradients", {"n_steps": 32}) is None
    assert recorded_verdicts("jepa-small", "feature_ablation", {"cells": (1, 1, 1)}) == verdict("occlusion")
    assert recorded_verdicts("jepa-small", "feature_ablation", {"cells": (1, 2, 2)}) is None
    assert recorded_verdicts("jepa-small", "paper", {"layer": -1, "mode": "received"}) == \
        verdict("paper figure (last layer, received)")
    assert recorded_verdicts("jepa-small", "paper", {"layer": 2, "mode": "received"}) is None
    rollout = {"head_fusion": "mean", "discard_ratio": 0.0, "start_layer": 0}
    assert recorded_verdicts("jepa-small", "rollout", {**rollout, "readout": "mean"}) == verdict("rollout (mean read-out)")
    assert recorded_verdicts("jepa-small", "rollout", {**rollout, "readout": "mean", "start_layer": 2}) is None
    assert recorded_verdicts("someone-elses-model", "occlusion", {}) is None


def test_a_map_is_also_read_against_a_control_that_ignores_the_clip():
    """Random orders follow no place in the clip, so a map that favours one beats them whatever the model reads (a
    fixed blob at the frame's middle beat them on both curves for jepa-small); each map is now also compared, clip
    by clip, with such a control, and the control's own row shows what that bar is."""
    def with_control(clip, deletion, insertion, control):
        r = record(clip, deletion, insertion)
        r["methods"][CONTROL] = {**r["methods"]["a"], "deletion_auc": control[0], "insertion_auc": control[1]}
        return r
    s = summarise([with_control(0, 6.0, 4.0, (5.0, 4.5)), with_control(1, 6.2, 4.1, (5.1, 4.6)),
                   with_control(2, 5.9, 3.9, (5.0, 4.4))])["m"]
    assert s["a"]["deletion"]["vs_control"] == BEATS_CONTROL and s["a"]["insertion"]["vs_control"] == BEATS_CONTROL
    assert s["a"]["deletion"]["difference_to_control"][0] == pytest.approx(1.0, abs=1e-3)
    assert "vs_control" not in s[CONTROL]["deletion"]                       # the control is not read against itself
    level = summarise([with_control(0, 6.0, 4.0, (6.1, 3.9)), with_control(1, 6.2, 4.1, (6.0, 4.2)),
                       with_control(2, 5.9, 3.9, (5.8, 4.0))])["m"]["a"]
    assert level["deletion"]["vs_control"] == NOT_CONTROL and level["insertion"]["vs_control"] == NOT_CONTROL
    table = markdown({"m": s}, {"n": 3, "command": "c", "wall_s": 1.0, "threads": 1, "device": "cpu", "seeds": "0..2",
                                "steps": 4})
    assert f"| {BEATS_CONTROL} / {BEATS_CONTROL} |" in table and f"| m | {CONTROL} |" in table
    blob = centre_map((4, 7, 7), seed=0)                               # the middle first, the same in every slot
    order = np.argsort(-blob.ravel(), kind="stable")
    assert np.unravel_index(order[0], blob.shape)[1:] == (3, 3)
    assert len({int(np.unravel_index(i, blob.shape)[0]) for i in order[:4]}) == 4     # no time slot goes first
