"""The preprint's claims checked on a results table: verdicts follow the numbers, spreads decide what
counts as a result, a JEPA at the floor is not called robust, and the markdown carries every pair."""
import copy
import json
from pathlib import Path

import pytest

from model_zoo.evaluate.claims import check_claims, claim_pairs
from model_zoo.evaluate.table import render_claims, render_markdown

SHIPPED_RESULTS = Path(__file__).resolve().parents[1] / "model_zoo" / "results.json"


def model(family, mae, mae_std=0.1, r2=0.5, deg=10.0, deg_std=1.0, ped=8.0, ped_std=0.1):
    return {"family": family, "clean": {"mae": mae, "mae_std": mae_std, "rmse": mae * 1.3, "r2": r2},
            "mean_rel_degradation_pct": deg, "mean_rel_degradation_pct_std": deg_std,
            "pediatric": {"mae": ped, "mae_std": ped_std}}


def table(**models):
    return {"models": models}


def test_a_jepa_that_reproduces_the_preprint_meets_every_claim():
    r = table(j=model("jepa", 6.0, deg=1.0, deg_std=0.5, ped=5.0), m=model("mae", 8.5, ped=6.0),
              random=model("random", 7.0))
    claims = check_claims(r, "j", "m")
    assert [(c.met, c.beyond_spread) for c in claims] == [(True, True)] * 4
    assert claims[0].ours.startswith("29.4%")                     # 100 (8.5 - 6.0) / 8.5


def test_each_claim_fails_on_its_own_number():
    base = dict(j=model("jepa", 6.0, deg=1.0, deg_std=0.5, ped=5.0), m=model("mae", 8.5, ped=6.0),
                random=model("random", 7.0))
    for change, index in [(("j", "clean", "mae", 6.5), 0), (("j", "pediatric", "mae", 6.5), 2),
                          (("random", "clean", "mae", 5.5), 3)]:
        r = copy.deepcopy(table(**base))
        name, block, key, value = change
        r["models"][name][block][key] = value
        met = [c.met for c in check_claims(r, "j", "m")]
        assert met[index] is False and sum(met) == 3, change
    r = copy.deepcopy(table(**base))
    r["models"]["j"]["mean_rel_degradation_pct"] = 2.5
    assert [c.met for c in check_claims(r, "j", "m")] == [True, False, True, True]


def test_a_difference_inside_the_spread_is_not_a_result():
    # 0.3 apart with stds 0.3 and 0.2: sqrt(0.09 + 0.04) = 0.36 > 0.3
    r = table(j=model("jepa", 8.2, mae_std=0.3, ped=7.9, ped_std=0.3), m=model("mae", 8.5, mae_std=0.2, ped=8.2,
                                                                            ped_std=0.2))
    clean, _, ped = check_claims(r, "j", "m")
    assert (clean.met, clean.beyond_spread) == (False, True)       # 0.3 ahead: far from the 27% (2.3) the claim needs
    assert (ped.met, ped.beyond_spread) == (True, False)
    assert ped.verdict == "inconclusive: met by the means, inside the spread"
    near = table(j=model("jepa", 6.3, mae_std=0.3), m=model("mae", 8.5, mae_std=0.2))   # 25.9%, 0.1 short of 27%
    assert check_claims(near, "j", "m")[0].verdict == "inconclusive: not met by the means, inside the spread"
    r["models"]["j"]["pediatric"]["mae"] = 7.5
    assert check_claims(r, "j", "m")[2].verdict == "met"


def test_the_baseline_row_is_held_against_the_better_baseline_and_the_degradation_against_its_spread():
    r = table(j=model("jepa", 6.0, deg=1.0, deg_std=0.5, ped=5.0), m=model("mae", 8.5, ped=6.0),
              random=model("random", 7.0), pixels=model("pixels", 5.5))
    baseline = check_claims(r, "j", "m")[3]
    assert baseline.met is False and "pixels 5.50" in baseline.ours          # behind the better of the two
    r["models"]["j"]["mean_rel_degradation_pct"] = 2.0                       # 0.3 under 2.3, std 0.5: not a result
    assert check_claims(r, "j", "m")[1].verdict == "inconclusive: met by the means, inside the spread"
    r["models"]["j"]["mean_rel_degradation_pct_std"] = 0.2
    assert check_claims(r, "j", "m")[1].verdict == "met"


def test_a_small_degradation_from_the_floor_is_not_robustness():
    r = table(j=model("jepa", 9.9, r2=0.02, deg=1.0, deg_std=0.5), m=model("mae", 9.0))
    deg = check_claims(r, "j", "m")[1]
    assert deg.met is False and "floor" in deg.note
    r["models"]["j"]["clean"]["r2"] = 0.4
    assert check_claims(r, "j", "m")[1].met is True


def test_a_gap_over_an_mae_at_the_floor_is_not_met():
    r = table(j=model("jepa", 6.3, mae_std=0.07, ped=8.1), m=model("mae", 9.97, mae_std=0.2, r2=0.05, ped=7.2))
    clean, _, ped = check_claims(r, "j", "m")
    assert clean.ours.startswith("36.8%") and clean.beyond_spread
    assert clean.met is False and "R2 0.050" in clean.note and "at the floor" in ped.note
    r["models"]["m"]["clean"]["r2"] = 0.3                          # the same gap over an MAE that reads EF
    clean, _, ped = check_claims(r, "j", "m")
    assert clean.met is True and clean.note == "" and ped.note == ""


def test_a_pediatric_lead_at_the_floor_is_flagged():
    r = table(j=model("jepa", 6.0, ped=8.5), m=model("mae", 8.5, ped=9.5))
    assert check_claims(r, "j", "m")[2].note == ""                  # no floor row in the table: nothing to flag
    r["train_mean_constant"] = {"pediatric": {"mae": 8.2}}
    ped = check_claims(r, "j", "m")[2]
    assert ped.met and "no better than the floor (8.20" in ped.note
    r["models"]["j"]["pediatric"]["mae"] = 7.9
    assert check_claims(r, "j", "m")[2].note == ""


def test_without_baselines_the_pretraining_row_is_left_out_and_families_are_checked():
    r = table(j=model("jepa", 6.0), m=model("mae", 8.5))
    assert len(check_claims(r, "j", "m")) == 3
    with pytest.raises(ValueError, match="jepa-family"):
        check_claims(r, "m", "j")


def test_every_jepa_mae_pair_gets_a_table_and_a_table_without_a_pair_says_why():
    r = table(j1=model("jepa", 6.0), j2=model("jepa", 7.0), m=model("mae", 8.5), random=model("random", 7.0))
    assert claim_pairs(r) == [("j1", "m"), ("j2", "m")]
    md = "\n".join(render_claims(r))
    assert md.count("| claim | preprint (theirs) | ours | verdict |") == 2
    assert "**j2** against **m**" in md
    assert "No JEPA and MAE pair" in render_claims(table(j=model("jepa", 6.0), random=model("random", 7.0)))[0]


def test_the_shipped_table_states_the_claims_it_shows():
    results = json.loads(SHIPPED_RESULTS.read_text())
    md = render_markdown(results)
    section = md[md.index("## The preprint's claims"):md.index("## Second view")]
    j, m = results["models"]["jepa-small"], results["models"]["mae-small"]
    gap = 100 * (m["clean"]["mae"] - j["clean"]["mae"]) / m["clean"]["mae"]
    row = next(line for line in section.splitlines() if line.startswith("| clean EF MAE ≥ 27%"))
    assert f"{gap:.1f}%" in row
    assert ("| met" in row) == (gap >= 27)
