"""A headless analysis with a model too slow for some views on the CPU: those views are left out for that model
alone, each with a note saying which view, the estimate and what would run it (--frames N), and the rest of the
report is still written (before, the first refusal stopped `analyze` with exit 2 and an empty folder).
The estimate is monkeypatched: tiny models stand in for a ViT-B or ViT-L."""
import json
import re

import pytest

from echo.phantom import render_clip
from explain.analysis import budget

SLOW_S = 25.0       # a "JEPA" pass: degradation (15 passes) 375 s and the trajectory (41) 1025 s, over the 300-s
                    # budget; the severity sweep (7 passes) 175 s and the rollout (1) under it


@pytest.fixture
def slow_jepa(monkeypatch):
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: SLOW_S * passes if m.family == "jepa" else 0.0)


def tiny_pair():
    from builders import tiny_probe, tiny_wrapper
    from explain.analysis.pair import LoadedModel
    return {"jepa": LoadedModel("jepa", tiny_wrapper("jepa"), tiny_probe(), None, None, True),
            "mae": LoadedModel("mae", tiny_wrapper("mae", seed=1), tiny_probe(seed=1), None, None, True)}


def advised_frames(words: str) -> int:
    return int(re.search(r"analyze again with --frames (\d+) \(", words).group(1))


def test_a_view_over_the_cpu_budget_is_skipped_for_that_model_with_the_frames_that_would_run_it(tmp_path, slow_jepa):
    from explain.analysis.report import analyze
    clip = render_clip(3, "adult", n_frames=40, size=64, fps=50)
    report = analyze(clip, tiny_pair(), tmp_path, quick=False, methods=("rollout",))
    jepa, mae = report["models"]["jepa"], report["models"]["mae"]
    assert set(jepa["skipped_views"]) == {"degradation", "trajectory", "speckle_ratio"} and mae["skipped_views"] == {}
    for view, what in (("degradation", "EF under every degradation"), ("trajectory", "The trajectory view"),
                       ("speckle_ratio", "The speckle test")):
        words = jepa["skipped_views"][view]
        assert words.startswith(f"{what} on jepa-tiny would take about ") and "so it was not run" in words
        assert "or on a GPU (--device cuda or mps)" in words
        frames = advised_frames(words)                         # whole tubelets, fewer than its 8, within the budget
        assert frames in (2, 4, 6)
    # the frames offered follow the estimate: 15 passes fit at 6 of 8 frames, 41 passes only at 2
    assert advised_frames(jepa["skipped_views"]["degradation"]) == 6
    assert advised_frames(jepa["skipped_views"]["trajectory"]) == 2
    # the keys and shapes README documents, null where not run; the other model's numbers and files kept
    assert set(jepa["degradation"]) == set(mae["degradation"]) and len(mae["degradation"]) > 5
    assert all(d == {"ef": None, "ef_beat": None} for d in jepa["degradation"].values())
    assert all(isinstance(d["ef"], float) for d in mae["degradation"].values())
    t = jepa["trajectory"]
    assert t["coords"] == [] and t["loop_closure"] is None and t["skipped"] == jepa["skipped_views"]["trajectory"]
    assert {"method", "coords", "frames", "clip_frames", "loop_closure", "phase_error_deg"} <= set(t) == set(
        mae["trajectory"]) | {"skipped"} and len(mae["trajectory"]["coords"]) > 10 and t["clip_frames"] == 40
    assert jepa["speckle_ratio"] is None and mae["speckle_ratio"] > 0
    assert not (tmp_path / "jepa.trajectory.json").exists() and (tmp_path / "mae.trajectory.json").is_file()
    assert (tmp_path / "jepa.rollout.npy").is_file() and jepa["focus"]["rollout"] is not None     # 1 pass: it ran
    sweep = json.loads((tmp_path / "sensitivity.json").read_text())                 # 7 passes: both models ran it
    assert {t["name"] for t in sweep["data"]} >= {"jepa-tiny", "mae-tiny"}
    page = (tmp_path / "report.html").read_text()
    for words in jepa["skipped_views"].values():
        assert words.replace("'", "&#x27;") in page
    assert "speckle ratio n/a (not run: see above)" in page
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["models"]["jepa"]["skipped_views"] == jepa["skipped_views"]


def test_a_view_no_model_can_afford_is_skipped_for_both_and_the_report_still_written(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 400.0 * passes)     # even 2 frames are over
    from explain.analysis.report import analyze
    clip = render_clip(4, "adult", n_frames=40, size=64, fps=50)
    report = analyze(clip, tiny_pair(), tmp_path, quick=True)
    for role, m in report["models"].items():
        assert set(m["skipped_views"]) == {"degradation", "severity_sweep", "trajectory"}
        assert "even --frames 2 would take about" in m["skipped_views"]["trajectory"]
        assert m["skipped_views"]["trajectory"].endswith("To run it, analyze on a GPU (--device cuda or mps), "
                                                         "where no limit applies.")
        assert "'rollout' on" in m["skipped"]["rollout"] and "--frames" in m["skipped"]["rollout"]   # the map too
        assert m["trajectory"]["phase_source"] is None and m["ef"] is not None                    # EF still read
    figure = json.loads((tmp_path / "sensitivity.json").read_text())
    title = figure["layout"]["title"]["text"]
    assert "not run (over the CPU time limit; report.json says why): jepa-tiny, mae-tiny" in title
    assert (tmp_path / "report.html").is_file()


def test_a_shipped_model_over_the_budget_is_pointed_to_an_accelerator_not_to_frames(monkeypatch, shipped_pair):
    """--frames leaves a shipped model at its own frame count (pair.frames_for): advising it would not help."""
    from explain.analysis.budget import OverBudget, check_budget
    from explain.analysis.skipped_views import skip_words
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 100.0 * passes)
    with pytest.raises(OverBudget) as e:
        check_budget(shipped_pair["mae"], 41, "The trajectory view")
    words = skip_words(e.value)
    assert "--frames" not in words and words.endswith("To run it, analyze on a GPU (--device cuda or mps), where no "
                                                      "limit applies.")
    assert isinstance(e.value, ValueError)                  # the page still shows it as any refusal


def test_the_speckle_test_takes_models_of_different_input_shapes_apart(shipped_pair):
    """A checkpoint at its own size beside a shipped model at 112 px: the speckle test had refused both ('the
    encoders take different inputs'), which stopped a full analysis."""
    from builders import tiny_wrapper
    from explain.analysis.latent_pixel import speckle_ratios
    from explain.analysis.pair import LoadedModel
    tiny = LoadedModel("jepa", tiny_wrapper("jepa"), None, None, None, True)                    # 8 frames x 64 px
    assert tiny.input_shape != shipped_pair["mae"].input_shape
    ratios = speckle_ratios({"jepa": tiny, "mae": shipped_pair["mae"]}, False, False)
    alone = speckle_ratios({"jepa": tiny}, False, False)
    assert set(ratios) == {"jepa", "mae"} and ratios["jepa"] == alone["jepa"] and ratios["mae"]["ratio"] > 0


def test_an_audit_leaves_a_too_slow_model_out_of_the_degradations_and_says_so(tmp_path, monkeypatch):
    """An audit of a ViT-L had stopped at its first clip (the degradations' estimate refused): the too-slow model's
    sensitivity is blank, with why in the summary and its words, and every other column is still filled."""
    import csv
    # a "JEPA" pass of 50 s: the six benchmark degradations and the clean clip (7 passes) 350 s, over the 300-s
    # budget; the rollout (1) under it
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 50.0 * passes if m.family == "jepa" else 0.0)

    from echo.writers import write_npz
    from explain.analysis.audit import audit
    (tmp_path / "clips").mkdir()
    for seed in (3, 4):
        write_npz(tmp_path / "clips" / f"c{seed}.npz", render_clip(seed, "adult", n_frames=40, size=64, fps=50))
    summ, rows, (headline, lines) = audit(tmp_path / "clips", tiny_pair(), tmp_path / "out")
    assert summ["clips"] == 2 and summ["unreadable"] == 0
    assert set(summ["skipped_views"]["jepa"]) == {"degradation"} and summ["skipped_views"]["mae"] == {}
    left_out = summ["skipped_views"]["jepa"]["degradation"]
    why = left_out["why"]
    assert left_out["clips"] == 2 and why.startswith("EF under every degradation on jepa-tiny would take about ")
    assert "audit again with --frames" in why
    for r in rows:
        assert r["jepa_sensitivity"] is None and r["mae_sensitivity"] is not None and r["jepa_ef"] is not None
    jepa_line = next(line for line in lines if line.startswith("jepa-tiny"))
    assert jepa_line.endswith(f"⚠️ Left out on 2 clips of 2: {why.rstrip('.')}.")
    assert "would take about" not in next(line for line in lines if line.startswith("mae-tiny"))
    with open(tmp_path / "out" / "audit.csv", newline="") as f:
        assert [r["jepa_sensitivity"] for r in csv.DictReader(f)] == ["", ""]


def test_the_pages_audit_names_its_own_frame_box_not_the_command_lines_flags(tmp_path, monkeypatch):
    """The page's user has no --frames or --device: the advice names 'Frames for large checkpoints'. And a model
    refused on one clip and run on the next (its passes timed meanwhile) is said to be left out of that one clip."""
    from echo.writers import write_npz
    from explain.analysis.audit import audit
    from app.views.audit import PAGE_RERUN
    (tmp_path / "clips").mkdir()
    for seed in (3, 4):
        write_npz(tmp_path / "clips" / f"c{seed}.npz", render_clip(seed, "adult", n_frames=40, size=64, fps=50))
    calls = []

    def first_clip_slow(m, passes):
        calls.append(passes)
        return 50.0 * passes if m.family == "jepa" and len(calls) <= 4 else 0.0
    monkeypatch.setattr(budget, "cpu_seconds", first_clip_slow)
    summ, rows, _ = audit(tmp_path / "clips", tiny_pair(), tmp_path / "out", rerun=PAGE_RERUN)
    left_out = summ["skipped_views"]["jepa"]["degradation"]
    assert left_out["clips"] == 1 and "audit again with 'Frames for large checkpoints' at " in left_out["why"]
    assert "--frames" not in left_out["why"] and "--device" not in left_out["why"]
    assert [r["jepa_sensitivity"] is None for r in rows] == [True, False]


def test_the_pages_speckle_test_is_refused_before_it_starts_for_a_model_too_slow(monkeypatch):
    """It had no time check on the page (only analyze's had one): a ViT-L, its context encoder and two untrained
    twins would have held the one model slot for many minutes."""
    from explain.analysis.budget import OverBudget
    from explain.analysis.latent_pixel import speckle_view
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 5.0 * passes if m.family == "jepa" else 0.0)
    with pytest.raises(OverBudget, match="The speckle test on jepa-tiny would take about 8 min"):
        speckle_view(tiny_pair())


def test_an_audit_of_a_model_without_an_ef_probe_says_so_and_what_it_left_out(tmp_path, monkeypatch):
    """A bare checkpoint (no probe) too slow for the degradations: its line had said 'no clip predicted (none could be
    read)' of clips that were read, and dropped the views it was left out of."""
    from echo.writers import write_npz
    from explain.analysis.audit import audit
    from explain.analysis.pair import LoadedModel
    from builders import tiny_probe, tiny_wrapper
    (tmp_path / "clips").mkdir()
    write_npz(tmp_path / "clips" / "c3.npz", render_clip(3, "adult", n_frames=40, size=64, fps=50))
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 50.0 * passes if m.family == "jepa" else 0.0)
    pair = {"jepa": LoadedModel("jepa", tiny_wrapper("jepa"), None, None, None, True),
            "mae": LoadedModel("mae", tiny_wrapper("mae", seed=1), tiny_probe(seed=1), None, None, True)}
    _, _, (_, lines) = audit(tmp_path / "clips", pair, tmp_path / "out")
    assert lines[0].startswith("jepa-tiny: no clip predicted (it has no EF probe). ⚠️ Left out on 1 clip of 1: EF "
                               "under every degradation on jepa-tiny would take about ")
