"""The scoreboard: every pretrained row of several results.json files with its run's baselines, the
benchmark mean, the JEPA rows' rank correlations, and a clear refusal of files it cannot read."""
import json

import pytest

from echo.degrade import BENCHMARK_CONDITIONS
from model_zoo.experiments import scoreboard
from model_zoo.experiments.scoreboard import benchmark_mean, render, rows_of, spearman


def model(family, clean, degradation, bench):
    return {"family": family, "clean": {"mae": clean, "mae_std": 0.1}, "mean_rel_degradation_pct": degradation,
            "pediatric": {"mae": 8.0}, "degraded": {c: {"mae": bench + (i - 2.5) / 10}
                                                    for i, c in enumerate(BENCHMARK_CONDITIONS)}}


def results_file(path, pixels, **models):
    models = {**models, "random": model("random", 6.0, 60.0, 10.0), "pixels": model("pixels", pixels, 40.0, 9.5)}
    path.write_text(json.dumps({"models": models, "train_mean_constant": {"clean": {"mae": 10.2}}}))
    return path


def test_rows_carry_each_runs_baselines_and_skip_them(tmp_path):
    a = results_file(tmp_path / "a_results.json", 6.9, j=model("jepa", 7.0, 30.0, 9.0), m=model("mae", 9.0, 10.0, 10.0))
    rows = rows_of(a)
    assert [(r["run"], r["model"], r["family"]) for r in rows] == [("a", "j", "jepa"), ("a", "m", "mae")]
    assert rows[0]["benchmark_mean"] == pytest.approx(9.0) and (rows[0]["random"], rows[0]["pixels"]) == (6.0, 6.9)
    assert benchmark_mean(model("jepa", 7.0, 30.0, 11.5)) == pytest.approx(11.5)


def test_a_confirmation_run_adds_no_rows(tmp_path):
    """A --confirm run reads models already on the board on other hearts: counted again, they would move the
    correlations and show twice."""
    path = results_file(tmp_path / "c_results.json", 6.9, j=model("jepa", 7.0, 30.0, 9.0))
    assert len(rows_of(path)) == 1
    path.write_text(json.dumps({**json.loads(path.read_text()), "held_out": "confirm"}))
    assert rows_of(path) == []


def test_a_gain_normalised_run_shows_its_normalised_pixels_beside_the_raw(tmp_path):
    path = results_file(tmp_path / "gn_results.json", 6.8, j=model("jepa", 6.3, 18.0, 7.5),
                        pixels_gain_norm_0_05=model("pixels", 6.11, 14.0, 7.0))
    rows = rows_of(path)
    assert [r["model"] for r in rows] == ["j"]                    # the extra pixel row is a baseline, not a row
    assert rows[0]["pixels"] == 6.8 and rows[0]["pixels_normalised"] == {"pixels_gain_norm_0_05": 6.11}
    assert "| 6.00 / 6.80 (6.11 gain_norm_0_05) |" in render(rows)
    plain = rows_of(results_file(tmp_path / "raw_results.json", 6.9, j=model("jepa", 7.0, 30.0, 9.0)))
    assert "| 6.00 / 6.90 |" in render(plain)


def test_the_table_groups_by_protocol_and_the_correlations_follow_the_rows(tmp_path):
    old = results_file(tmp_path / "old_results.json", 6.9, j1=model("jepa", 8.0, 10.0, 9.9),
                       j2=model("jepa", 7.0, 30.0, 9.1))
    new = results_file(tmp_path / "new_results.json", 6.8, j3=model("jepa", 6.0, 50.0, 9.5))
    text = render(rows_of(old) + rows_of(new))
    lines = [line for line in text.splitlines() if line.startswith("| old") or line.startswith("| new")]
    assert [line.split(" | ")[1] for line in lines] == ["j2", "j1", "j3"]      # old crops first, by clean MAE
    # clean 8, 7, 6 against degradation 10, 30, 50 (fully reversed) and bench 9.9, 9.1, 9.5
    assert "relative degradation: -1.00; with the benchmark mean MAE: +0.50." in text


def test_spearman_is_rank_based_and_refuses_what_it_cannot_rank():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833)   # ties share their mean rank
    with pytest.raises(ValueError, match="at least 3"):
        spearman([1, 2], [2, 1])
    with pytest.raises(ValueError, match="differ"):
        spearman([1, 1, 1], [1, 2, 3])


def test_a_file_without_a_table_or_baselines_is_named(tmp_path, capsys):
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"seed": 0}))
    with pytest.raises(ValueError, match="no 'models' table"):
        rows_of(bare)
    nobase = tmp_path / "nobase.json"
    nobase.write_text(json.dumps({"models": {"j": model("jepa", 7.0, 30.0, 9.0)}}))
    with pytest.raises(ValueError, match="random or pixels"):
        rows_of(nobase)
    with pytest.raises(SystemExit):
        scoreboard.main(["--results", str(bare)])
    assert "bare.json has no 'models' table" in capsys.readouterr().err


def test_the_committed_runs_render(tmp_path):
    out = tmp_path / "board.md"
    scoreboard.main(["--out", str(out)])
    text = out.read_text()
    assert "jepa_jitter_top3_short_masks" in text and "Spearman" in text


def test_the_figure_puts_each_row_where_its_numbers_say(tmp_path):
    from model_zoo.experiments.scoreboard import scoreboard_figure
    path = results_file(tmp_path / "a_results.json", 6.9, j1=model("jepa", 8.0, 10.0, 9.9),
                        j2=model("jepa", 7.0, 30.0, 9.1), j3=model("jepa", 6.0, 50.0, 9.5),
                        m=model("mae", 9.0, 5.0, 10.0))
    fig, caption = scoreboard_figure(rows_of(path))
    jepa, mae = fig.data
    assert (list(jepa.x), list(jepa.y)) == ([8.0, 7.0, 6.0], [10.0, 30.0, 50.0]) and list(mae.x) == [9.0]
    assert jepa.name == "JEPA (3 runs)" and "rank correlation is -1.00" in caption
    assert fig.layout.shapes[0].y0 == 2.3 and fig.layout.shapes[1].x0 == 10.2  # the preprint's line, the floor
    fig, caption = scoreboard_figure(rows_of(path)[-1:])                      # the MAE alone: no correlation
    assert len(fig.data) == 1 and "rank correlation" not in caption


def test_the_beat_view_shows_where_a_run_measured_it_and_older_runs_say_so(tmp_path):
    beat = lambda clean, degradation: {"beat_probe": {"clean": {"mae": clean, "mae_std": 0.2},
                                                      "mean_rel_degradation_pct": degradation}}
    path = tmp_path / "new_results.json"
    models = {"j": {**model("jepa", 7.0, 30.0, 9.0), **beat(4.1, 120.0)},
              "random": {**model("random", 6.0, 60.0, 10.0), **beat(3.9, 150.0)},
              "pixels": {**model("pixels", 6.8, 40.0, 9.5), **beat(3.8, 110.0)}}
    path.write_text(json.dumps({"models": models}))
    assert render(rows_of(path)).splitlines()[2].endswith("| 4.10 ± 0.20, +120.0% (untrained 3.90) |")
    old = results_file(tmp_path / "old_results.json", 6.9, j=model("jepa", 7.0, 30.0, 9.0))
    assert render(rows_of(old)).splitlines()[2].endswith("| not measured (older run) |")
