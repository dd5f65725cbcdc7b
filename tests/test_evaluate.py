"""The evaluation: the quick table's schema and its own arithmetic, the markdown, and shipping probes
into model folders (on tiny smoke checkpoints)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import model_zoo
from echo.degrade import BENCHMARK_CONDITIONS, CONDITIONS
from echo.preprocess import to_model_input
from model_zoo.checkpoint import export
from model_zoo.data import render_beat
from model_zoo.evaluate import Sizes, evaluate, ship, write_results
from model_zoo.evaluate.__main__ import main
from model_zoo.evaluate.protocol import QUICK_SIZES
from model_zoo.evaluate.run import load_models
from model_zoo.evaluate.table import render_markdown
from model_zoo.features import ClipBank, model_inputs, split_seeds
from model_zoo.jepa import JEPA
from model_zoo.probe_fit import ProbeTraining
from model_zoo.probe_io import BEAT_PROBE, PROBE_CARD, load_probe
from model_zoo.probes import predict_ef
from model_zoo.recipes import get_recipe

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {"jepa-smoke": "jepa", "mae-smoke": "mae", "random": "random", "pixels": "pixels"}


@pytest.fixture(scope="module")
def quick(smoke_models, tmp_path_factory):
    """The CLI's --quick run on the smoke checkpoints: results.json and results.md."""
    out = tmp_path_factory.mktemp("quick")
    main(["--out", str(out), "--quick", "--models", ",".join(smoke_models), "--no-progress"])
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def is_float(x):
    return isinstance(x, float)


@pytest.mark.parametrize("smaller", [["--quick"], ["--n-test", "100"], ["--probe-seeds", "2"],
                                     ["--quick", "--n-train", "1000", "--n-val", "250", "--n-test", "500",
                                      "--n-pediatric", "500"]])
def test_ship_refuses_a_run_smaller_than_the_full_protocol_before_evaluating(smaller, tmp_path, monkeypatch, capsys):
    """--ship replaces the shipped probes, cards and model_zoo/results.json: a quick run would have put smoke numbers
    there (the results.md banner warned, nothing stopped it). Refused before any model is loaded or probed."""
    import model_zoo.evaluate.__main__ as cli
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: pytest.fail("evaluated a run --ship refuses"))
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--ship", *smaller])
    err = capsys.readouterr().err
    assert "--ship replaces the shipped probes" in err and "this run is smaller" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_quick_table_schema(quick):
    r, _ = quick
    assert isinstance(r["seed"], int)
    conditions = {"clean", *CONDITIONS, "pediatric"}
    assert set(r["n"]) == conditions
    assert all(r["n"][c] == QUICK_SIZES.test for c in conditions - {"pediatric"})
    assert r["n"]["pediatric"] == QUICK_SIZES.pediatric
    assert (r["n_train"], r["n_val"]) == (QUICK_SIZES.train, QUICK_SIZES.val)
    assert {name: m["family"] for name, m in r["models"].items()} == FAMILIES
    for m in r["models"].values():
        for block in (m, m["linear_probe"], m["beat_probe"]):
            assert all(is_float(block["clean"][k]) for k in ("mae", "rmse", "r2", "mae_std", "rmse_std", "r2_std"))
            assert set(block["degraded"]) == set(CONDITIONS)
            assert all(is_float(d["mae"]) and is_float(d["mae_std"]) for d in block["degraded"].values())
            assert is_float(block["mean_rel_degradation_pct"])
            assert is_float(block["pediatric"]["mae"]) and is_float(block["pediatric"]["mae_std"])
            assert block["clean"]["mae"] > 0
        for view in (m, m["beat_probe"]):
            assert len(view["probe_seeds"]) == 3
            assert [s["seed"] for s in view["probe_seeds"]] == [0, 1, 2]
            maes = [s["clean"]["mae"] for s in view["probe_seeds"]]
            assert view["clean"]["mae"] == pytest.approx(np.mean(maes), abs=1e-3)
            assert view["clean"]["mae_std"] == pytest.approx(np.std(maes, ddof=1), abs=1e-3)
            for s in view["probe_seeds"]:                # clean error by true-EF band, every clip in one band
                bands = s["clean_by_true_ef"]
                assert sum(b["n"] for b in bands) == r["n"]["clean"]
                weighted = sum(b["mae"] * b["n"] for b in bands if b["n"]) / r["n"]["clean"]
                assert weighted == pytest.approx(s["clean"]["mae"], abs=0.02)
        assert m["beat_probe"]["probe_seeds"] != m["probe_seeds"]        # its own probes, not the attentive ones
    assert "beat_probe" in r["protocol"]
    assert r["quick"] is True and "--quick" in r["command"] and "Quick run (--quick)" in quick[1]
    assert r["commit"] is None or len(r["commit"].removesuffix("-modified")) == 40


@pytest.mark.slow
def test_mean_rel_degradation_comes_from_the_tables_own_numbers(quick):
    r, _ = quick
    for m in r["models"].values():
        for block in (m, m["linear_probe"], m["beat_probe"]):
            clean = block["clean"]["mae"]
            expected = np.mean([100 * (block["degraded"][c]["mae"] - clean) / clean for c in BENCHMARK_CONDITIONS])
            assert block["mean_rel_degradation_pct"] == pytest.approx(expected, abs=1e-3)


@pytest.mark.slow
def test_markdown_shows_every_model_and_the_preprint_as_theirs(quick):
    r, md = quick
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    for name, m in r["models"].items():
        row = next(line for line in rows if line.startswith(f"| {name} |"))
        assert f"{m['clean']['mae']:.2f} ± {m['clean']['mae_std']:.2f}" in row
        assert f"{m['mean_rel_degradation_pct']:+.1f} ± {m['mean_rel_degradation_pct_std']:.1f}" in row
    assert "theirs, not ours" in md and "5.97" in md and "+16.8%" in md and "4.32" in md
    assert "26.7% clean gap rounded up to 27%" in md                    # where the thresholds come from
    assert f"{r['n']['clean']} adult test clips" in md


@pytest.fixture(scope="module")
def tiny(smoke_models, tmp_path_factory):
    """A very small evaluation of shipped copies of the smoke checkpoints, written and shipped."""
    root = tmp_path_factory.mktemp("zoo")
    folders = [str(shutil.copytree(path, root / name)) for path, name in zip(smoke_models, ("jepa_smoke", "mae_smoke"))]
    ev = evaluate(folders, Sizes(train=16, val=8, test=4, pediatric=3), probe_seeds=2,
                  training=ProbeTraining(max_epochs=3), progress=False)
    path = write_results(ev, root / "out")
    written = ship(ev, path, shipped_root=root, zoo_results=root / "zoo_results.json")
    return ev, root, written


def test_tiny_evaluation_counts_and_shapes(tiny):
    ev, _, _ = tiny
    r = ev.results
    assert r["n"]["clean"] == 4 and r["n"]["pediatric"] == 3
    for name in r["models"]:
        assert ev.preds[name][0]["shadow_med"].shape == (4,) and ev.preds[name]["linear"]["pediatric"].shape == (3,)
        assert ev.preds[name][("beat", 1)]["clean"].shape == (4,)
    # paired: every condition degrades the same clips, so the truth is the same
    assert all(np.array_equal(ev.truth[c], ev.truth["clean"]) for c in CONDITIONS)



def test_predictions_csv_holds_every_clips_ef_so_the_table_can_be_checked_clip_by_clip(tiny):
    import csv
    ev, root, _ = tiny
    rows = list(csv.DictReader(open(root / "out" / "predictions.csv")))
    assert len(rows) == 4 * (1 + len(CONDITIONS)) + 3
    assert [int(r["clip_seed"]) for r in rows if r["condition"] == "pediatric"] == split_seeds("pediatric", 3)
    assert [int(r["clip_seed"]) for r in rows if r["condition"] == "clean"] == split_seeds("test", 4)
    for name, m in ev.results["models"].items():
        for column, recorded in ((f"{name} attentive seed 1", m["probe_seeds"][1]),
                                 (f"{name} beat seed 0", m["beat_probe"]["probe_seeds"][0])):
            for condition in ("clean", "shadow_high"):
                errors = [abs(float(r[column]) - float(r["true_ef"])) for r in rows if r["condition"] == condition]
                mae = recorded["clean"]["mae"] if condition == "clean" else recorded["degraded"][condition]
                assert np.mean(errors) == pytest.approx(mae, abs=0.01)


def test_a_confirmation_run_reports_on_hearts_no_other_run_reads_and_is_not_shipped(smoke_models, tiny, tmp_path):
    """Every recipe is compared on the test split; --confirm reads a chosen one on adult and pediatric hearts from
    seed ranges nothing else renders, says so above its table, and is refused by ship (the cards hold test numbers)."""
    import csv
    from echo.phantom import sample_params
    ev = evaluate(list(tiny[0].folders.values()), Sizes(train=16, val=8, test=4, pediatric=3), probe_seeds=2,
                  training=ProbeTraining(max_epochs=3), progress=False, held_out="confirm")
    adult, child = split_seeds("confirm", 4), split_seeds("confirm_pediatric", 3)
    assert not set(adult) & set(split_seeds("test", 10 ** 6)) and ev.results["held_out"] == "confirm"
    assert np.allclose(ev.truth["clean"], [sample_params(s, "adult").ef for s in adult], atol=1e-4)
    assert np.allclose(ev.truth["pediatric"], [sample_params(s, "pediatric").ef for s in child], atol=1e-4)
    assert not np.allclose(ev.truth["clean"], tiny[0].truth["clean"])            # other hearts than the test split's
    path = write_results(ev, tmp_path / "out")
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert [int(r["clip_seed"]) for r in rows if r["condition"] == "clean"] == adult
    assert [int(r["clip_seed"]) for r in rows if r["condition"] == "pediatric"] == child
    assert "**Confirmation run (--confirm)" in (tmp_path / "out" / "results.md").read_text()
    assert "Confirmation run" not in render_markdown(tiny[0].results)
    with pytest.raises(ValueError, match="confirm split is not shipped"):
        ship(ev, path, shipped_root=tmp_path, zoo_results=tmp_path / "zoo.json")
    with pytest.raises(ValueError, match="held_out must be one of test, confirm"):
        evaluate(list(tiny[0].folders.values()), held_out="val")
    seeds = ev.results["protocol"]["seeds"]                   # the card names the hearts read, not the test split's
    assert (seeds["test"], seeds["pediatric"]) == ("6,000,000 + i", "7,000,000 + i (population 'pediatric')")
    assert tiny[0].results["protocol"]["seeds"]["test"] == "4,000,000 + i"


def test_ship_refuses_a_confirmation_run_before_evaluating(tmp_path, monkeypatch, capsys):
    import model_zoo.evaluate.__main__ as cli
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: pytest.fail("evaluated a run --ship refuses"))
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "cli"), "--ship", "--confirm"])
    assert "a --confirm run is not shipped" in capsys.readouterr().err


@pytest.mark.parametrize("flags, words", [
    (["--out", "{file}"], "is a file, not a folder"),
    (["--out", "/sys/echolens-results"], "cannot be written"),
    (["--out", ""], "an empty path"),
    (["--probe-seeds", "0"], "--probe-seeds: 0 is not a whole number of at least 1"),
    (["--n-test", "0"], "--n-test: 0 is not a whole number of at least 1"),
    (["--n-train", "-5"], "--n-train: -5 is not a whole number of at least 1"),
    (["--threads", "-1"], "--threads: -1 is not a whole number of at least 1"),
    (["--models", "nosuch"], "nosuch"),
    (["--device", "bogus"], "Unknown device 'bogus'"),
])
def test_a_bad_flag_or_output_folder_is_refused_with_a_message_before_evaluating(flags, words, tmp_path, monkeypatch,
                                                                                 capsys):
    """Each of these was a traceback, some (--out a file, --probe-seeds 0, --n-test 0) only after the whole run had
    read every condition. Now argparse's one-line message, before any model is loaded, and nothing written."""
    import model_zoo.evaluate.__main__ as cli
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: pytest.fail("evaluated a run with a bad flag"))
    (tmp_path / "afile").write_text("")
    args = {"--out": str(tmp_path / "out"), **dict(zip(flags[::2], flags[1::2]))}
    args = [x.replace("{file}", str(tmp_path / "afile")) for kv in args.items() for x in kv]
    with pytest.raises(SystemExit) as stop:
        main([*args, "--quick"])
    assert stop.value.code == 2 and words in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_ship_writes_probes_cards_and_results(tiny):
    ev, root, written = tiny
    assert sorted(p.name for p in written) == ["jepa_smoke", "mae_smoke"]
    assert json.loads((root / "zoo_results.json").read_text()) == ev.results
    for folder in written:
        card = json.loads((folder / "card.json").read_text())
        probe = load_probe(folder)
        meta = json.loads((folder / PROBE_CARD).read_text())
        assert probe.meta == meta and meta["kind"] == "attentive"
        assert card["results"]["shipped_probe"]["clean"] == meta["test"]["clean"]
        assert card["results"]["clean"] == ev.results["models"][meta["encoder"]]["clean"]
        assert meta["ef_mean"] == pytest.approx(ev.probes[meta["encoder"]][0].ef_mean.item())
        # the recorded check clips reproduce through the public path
        m, check = model_zoo.load(folder, device="cpu"), meta["check"]
        x = to_model_input([render_beat(s, "adult", 8, 64) for s in check["clip_seeds"]], frames=8, size=64)
        assert np.abs(predict_ef(m, probe, x).numpy() - check["ef_pred"]).max() < 0.01
        # the beat view's best-on-val probe ships beside it, with its input statistics, and reproduces too
        beat = load_probe(folder, stem=BEAT_PROBE)
        runs = ev.results["models"][meta["encoder"]]["beat_probe"]["probe_seeds"]
        best = min(runs, key=lambda run: run["val"]["mae"])
        assert beat.meta["kind"] == "beat" and beat.meta["seed"] == best["seed"] and beat.meta["val"] == best["val"]
        assert card["results"]["shipped_beat_probe"]["clean"] == best["clean"] == beat.meta["test"]["clean"]
        recorded = ev.preds[meta["encoder"]][("beat", best["seed"])]["clean"][:len(check["clip_seeds"])]
        assert np.abs(predict_ef(m, beat, x).numpy() - recorded).max() < 0.01


def test_the_floor_is_the_train_mean_constant_of_the_same_test_clips(tiny):
    ev, _, _ = tiny
    floor = ev.results["train_mean_constant"]
    train_ef = ClipBank(8, 64).ef("train", ev.results["n_train"])
    assert floor["ef"] == pytest.approx(train_ef.mean(), abs=1e-3)
    assert floor["clean"]["mae"] == pytest.approx(np.abs(ev.truth["clean"] - train_ef.mean()).mean(), abs=1e-3)
    assert floor["pediatric"]["mae"] == pytest.approx(np.abs(ev.truth["pediatric"] - train_ef.mean()).mean(), abs=1e-3)
    assert floor["clean"]["r2"] <= 0                     # a constant explains nothing of the test EF


def test_the_table_shows_the_floor_and_still_renders_files_without_it(tiny):
    ev, _, _ = tiny
    md = render_markdown(ev.results)
    md = md[md.index("## Every condition"):]                 # the table of every condition (the short one opens)
    row = next(line for line in md.splitlines() if line.startswith("| train-mean constant |"))
    mae = f"{ev.results['train_mean_constant']['clean']['mae']:.2f}"
    assert row.count(f" {mae} ") == 1 + len(CONDITIONS)   # clean and every adult condition: the same clips
    assert row.count("|") == next(line for line in md.splitlines() if line.startswith("| model |")).count("|")
    old = {k: v for k, v in ev.results.items() if k != "train_mean_constant"}
    assert "train-mean constant" not in render_markdown(old)


def test_the_ridge_view_is_one_fit_so_its_rows_carry_no_spread(tiny):
    """A closed-form fit has no probe seeds: its recorded std of 0 must not read as a measured spread."""
    ev, _, _ = tiny
    md = render_markdown(ev.results)
    second = md[md.index("## Second view"):md.index("## Third view")]
    for name, m in ev.results["models"].items():
        row = next(line for line in second.splitlines() if line.startswith(f"| {name} |"))
        assert "±" not in row and f"| {m['linear_probe']['clean']['mae']:.2f} |" in row
    first = md[:md.index("## Second view")]
    assert "±" in next(line for line in first.splitlines() if line.startswith("| random |"))


def test_the_beat_view_gets_its_own_table_and_claims_and_older_files_render_without_it(tiny):
    ev, _, _ = tiny
    md = render_markdown(ev.results)
    third = md[md.index("## Third view"):md.index("## For comparison")]
    for name, m in ev.results["models"].items():
        b = m["beat_probe"]
        row = next(line for line in third.splitlines() if line.startswith(f"| {name} |"))
        assert f"{b['clean']['mae']:.2f} ± {b['clean']['mae_std']:.2f}" in row
    gap = 100 * (1 - ev.results["models"]["jepa-smoke"]["beat_probe"]["clean"]["mae"]
                 / ev.results["models"]["mae-smoke"]["beat_probe"]["clean"]["mae"])
    assert "**jepa-smoke** against **mae-smoke**" in third and f"{gap:.1f}% (" in third   # its own claims
    for name, m in ev.results["models"].items():           # the loss beside the attentive probe's, from these numbers
        b, a = m["beat_probe"]["mean_rel_degradation_pct"], m["mean_rel_degradation_pct"]
        assert (f"{name} {b:+.1f}% against {a:+.1f}%" in third) == (a > 0 and b > 0)
    assert "two to four times" not in third
    from model_zoo.evaluate.table import _beat_loss_words
    made = {"models": {"a": {"mean_rel_degradation_pct": 40.0, "beat_probe": {"mean_rel_degradation_pct": 200.0}},
                       "b": {"mean_rel_degradation_pct": 20.0, "beat_probe": {"mean_rel_degradation_pct": 60.0}},
                       "c": {"mean_rel_degradation_pct": 0.0, "beat_probe": {"mean_rel_degradation_pct": 5.0}}}}
    assert "this view lost 3.0 to 5.0 times as much" in _beat_loss_words(made)   # c, at no loss, is left out
    assert "(a +200.0% against +40.0%, b +60.0% against +20.0%)" in _beat_loss_words(made)
    old = {**ev.results, "models": {n: {k: v for k, v in m.items() if k != "beat_probe"}
                                    for n, m in ev.results["models"].items()}}
    old_md = render_markdown(old)
    assert "Third view" not in old_md and "Second view" in old_md


def test_results_md_opens_with_the_short_table_the_run_and_the_shipped_probes_numbers():
    """An auditor reads clean, degradation, pediatric and the probe the app uses first (they sat at columns 3, 12
    and 13 of 21); the shipped probes' column is their cards' test MAE; a quick run says it is one."""
    shipped = json.loads((ROOT / "model_zoo" / "results.json").read_text())
    md = render_markdown(shipped)
    short = md[:md.index("## Every condition")]
    header = next(line for line in short.splitlines() if line.startswith("| model |")).split(" | ")
    for name in ("jepa-small", "mae-small"):
        cells = dict(zip(header, next(line for line in short.splitlines() if line.startswith(f"| {name} |")).split(" | ")))
        for card, column in (("probe.json", "best-on-val seed: clean MAE"),
                             ("beat_probe.json", "beat view, best-on-val seed |")):
            test = json.loads((ROOT / "model_zoo" / "checkpoints" / name / card).read_text())["test"]["clean"]["mae"]
            assert cells[column].rstrip(" |") == f"{test:.2f}"
    assert "Quick run" not in md
    made = {**shipped, "threads": 2, "wall_s": {"total": 99.6}, "quick": True, "commit": "0123456789abcdef-modified",
            "command": "python -m model_zoo.evaluate --quick", "host": {"cpu": "X", "cpu_capability": "AVX2", "torch": "2"}}
    short = render_markdown(made)[:700]
    assert ("Run: X (AVX2 kernels, torch 2), 2 threads, cpu, commit 0123456789ab-modified, 100 s. Command: "
            "`python -m model_zoo.evaluate --quick`.") in short
    assert "**Quick run (--quick): 500 clips a condition." in short


def test_models_with_different_inputs_are_refused(smoke_models, tmp_path):
    torch.manual_seed(0)
    export(JEPA(get_recipe("smoke", size=32)), tmp_path / "other", {"name": "other"})
    with pytest.raises(ValueError, match="different inputs"):
        evaluate([smoke_models[0], str(tmp_path / "other")], Sizes(4, 4, 2, 2), progress=False)


def test_two_folders_of_one_name_are_refused_not_one_dropped(smoke_models, tmp_path):
    twin = tmp_path / "seed1"
    shutil.copytree(smoke_models[0], twin)                       # a second seed: its card gives the same name
    assert list(load_models(f"{smoke_models[0]},{smoke_models[1]}")) == ["jepa-smoke", "mae-smoke"]
    with pytest.raises(ValueError, match="both named 'jepa-smoke'"):
        load_models(f"{smoke_models[0]},{twin}")
    card = json.loads((twin / "card.json").read_text())
    (twin / "card.json").write_text(json.dumps({**card, "name": "jepa-smoke-seed1"}))
    assert list(load_models(f"{smoke_models[0]},{twin}")) == ["jepa-smoke", "jepa-smoke-seed1"]
    (twin / "card.json").write_text(json.dumps({**card, "name": "random"}))   # the baselines' names are kept
    with pytest.raises(ValueError, match="'random' is taken"):
        evaluate([str(twin)], Sizes(4, 4, 2, 2), progress=False)
    with pytest.raises(ValueError, match="both named 'jepa-smoke'"):                  # evaluate refuses twins too
        evaluate([smoke_models[0], smoke_models[0]], Sizes(4, 4, 2, 2), progress=False)


def test_degraded_inputs_keep_the_clean_clips_crop():
    """A degradation changes pixels, not the crop: the degraded input lines up with the clean one
    pixel for pixel (looking for the fan in a clip darkened at depth narrowed the crop, a zoom that
    decorrelated the speckle: correlation 0.66 at depth attenuation 2.15 against 0.90 now)."""
    bank = ClipBank(16, 112)
    clips, seeds = bank.clips("test", 2), split_seeds("test", 2)
    clean = next(model_inputs(clips, seeds, "clean", 16, 112))                 # (2, 16, 3, 112, 112)
    assert torch.equal(clean, to_model_input(clips, frames=16, size=112, channels=3))
    darker = next(model_inputs(clips, seeds, "depth_attenuation_2.15", 16, 112))
    corr = np.corrcoef(clean[:, :, 0].flatten().numpy(), darker[:, :, 0].flatten().numpy())[0, 1]
    assert corr > 0.85
    assert (darker <= clean + 1e-5).all()                                      # attenuation only darkens
