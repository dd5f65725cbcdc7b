"""The best estimate's rule (explain.analysis.best_estimate), one reason at a time, on stand-in probes: what it
decides (an EF and the probe, or None and why), then the words the page and `analyze` show."""
import numpy as np
import pytest
import torch

from explain.analysis.best_estimate import (DISAGREE_POINTS, BestEstimate, View, benchmark_split, best_estimate,
                                            category_span)
from explain.analysis.predict import Prediction, ef_category, shown_category
from explain.analysis.window import ModelView

ATTENTIVE, BEAT = "attentive probe", "beat view's probe"


def prediction(ef: float, ef_beat: float, ood: dict | None = None, crop: dict | None = None,
               beat: tuple[float, str] = (16.0, "test"), fps: float | None = None, held: int = 0) -> Prediction:
    view = ModelView(torch.zeros(1), np.zeros((16, 2, 2), np.uint8), None, None, None, np.zeros(16, int), beat, None,
                     fps=fps, held=held)
    return Prediction("jepa", "m", "jepa", ef, {"out_of_distribution": False} if ood is None else ood, None, view,
                      torch.zeros(1, 1, 1), ef_beat, crop=crop)


def decide(a: View, b: View, **kwargs) -> BestEstimate:
    return best_estimate({ATTENTIVE: a, BEAT: b}, prediction(a.ef, b.ef, **kwargs))


def test_the_view_with_the_lower_benchmark_error_beyond_both_spreads_gives_the_estimate():
    best = decide(View(55, 8.0, 0.4, False), View(58, 3.3, 0.1, False, typical=2.4))
    assert (best.ef, best.view, best.other, best.off, best.typical_recorded) == (58, BEAT, ATTENTIVE, 2.4, True)
    assert best.categories == "normal or preserved" and best.reason == ""
    assert best.words() == ("Best estimate: EF 58.0% (normal or preserved, within its typical error), through the beat view's probe, typically "
                            "off by 2.4 EF points at such EFs on phantom test clips; its benchmark error is the lower "
                            "(3.30 against 8.00 for the attentive probe). Not a measurement.")
    assert best.words(markdown=True).startswith("**Best estimate: EF 58.0% (normal or preserved, within its typical "
                                                "error), through the beat "
                                                "view's probe**")
    unrecorded = decide(View(30, 8.0, 0.4, False), View(36.2, 3.3, 0.1, False))
    assert unrecorded.off == 3.3 and not unrecorded.typical_recorded and "on such phantom test clips" in unrecorded.words()
    assert unrecorded.categories == "reduced"                                     # 36.2 ± 3.3 stays under 40.5
    wider = decide(View(30, 8.0, 0.4, False), View(36.2, 3.3, 0.1, False, typical=5.7))
    assert wider.categories == "reduced to mildly reduced"                        # 36.2 ± 5.7 crosses it
    assert best.to_dict()["words"] == best.words() and best.to_dict()["ef"] == 58
    assert decide(View(55, 8.0, 0.4, False), View(58.48468780517578, 3.3, 0.1, False)).to_dict()["ef"] == 58.48468780517578


@pytest.mark.parametrize("a, b, kwargs, reason, see", [
    (View(55, 8.0, 0.4, False), View(120.0, 3.3, 0.1, False), {}, "the beat view's probe reads 120.0%, an impossible EF", ""),
    (View(float("nan"), 8.0, 0.4, False), View(55, 3.3, 0.1, False), {}, "the attentive probe reads nan%, an impossible EF", ""),
    (View(55, 8.0, 0.4, False), View(58, 3.3, 0.1, False), {"ood": {"out_of_distribution": True}},
     "the clip lies outside the phantom training distribution", "below"),
    (View(40, 8.0, 0.4, False), View(40 + DISAGREE_POINTS + 0.1, 3.3, 0.1, False), {}, "its two probes disagree", "above"),
    (View(55, None, None, False), View(58, None, None, False), {},
     "no benchmark error is recorded for this model's probes", ""),
    (View(55, 8.0, 0.4, False), View(58, 7.8, 0.3, False), {},
     "the two probes' benchmark errors lie inside their spreads; read both", ""),
    (View(55, 8.0, 0.4, False), View(58, 3.3, 0.1, True), {},
     "the beat view's probe, the one with the lower benchmark error, reads within 3 points of what it reads "
     "from an all-black clip", "the warning below"),
    (View(55, 8.0, 0.4, False), View(58, 3.3, 0.1, False, crop_move=7.0), {"crop": {"pixels": 2}},
     "the beat view's probe, the one with the lower benchmark error, moves 7.0 points with the clip 2 px higher or "
     "lower", "the crop check below"),
])
def test_each_reason_holds_the_estimate_back_and_says_so(a, b, kwargs, reason, see):
    held = decide(a, b, **kwargs)
    assert held.ef is None and held.reason == reason and held.see == see
    assert held.words() == f"No best estimate: {reason}."                         # analyze: no place on a page
    assert held.words(markdown=True) == f"No best estimate: {reason}{f' ({see})' if see else ''}."


def test_no_reference_to_check_the_clip_against_holds_it_back_and_fewer_than_two_probes_give_none():
    p = prediction(55, 58)
    p.ood = None
    assert best_estimate({ATTENTIVE: View(55, 8.0, 0.4, False), BEAT: View(58, 3.3, 0.1, False)}, p).reason == (
        "nothing checks whether this clip is like the clips the model learned from")
    assert best_estimate({ATTENTIVE: View(55, 8.0, 0.4, False)}, p) is None


def test_a_childs_or_a_degraded_clip_says_so_and_a_childs_gets_no_adult_category():
    views = {ATTENTIVE: View(55, 8.0, 0.4, False), BEAT: View(62.5, 4.9, 0.1, False)}
    child = best_estimate(views, prediction(55, 62.5), "pediatric")
    assert child.kind == "pediatric" and child.categories == "" and "(a child's clip: zero-shot): EF 62.5%," in child.words()
    degraded = best_estimate(views, prediction(55, 62.5), None, "shadow 0.50")
    assert degraded.kind == "degraded" and "Best estimate (a degraded clip): EF 62.5% (" in degraded.words()
    assert [benchmark_split(*a) for a in (("pediatric", "shadow"), (None, "shadow"), ("adult", None))] == [
        "pediatric", "degraded", "clean"]


def test_categories_follow_the_ef_as_shown_and_spans_cover_its_typical_error():
    assert [category_span(*a) for a in ((60, 3), (44.4, 5.1), (44, 2), (52, 4))] == [
        "normal or preserved", "reduced to normal or preserved", "mildly reduced", "mildly reduced to normal or preserved"]
    assert [ef_category(v) for v in (40.44, 40.5, 45.0, 49.44, 49.5)] == [
        "reduced", "mildly reduced", "mildly reduced", "mildly reduced", "normal or preserved"]   # half up
    assert [ef_category(v) for v in (float("nan"), -242.0, 150.0, None)] == [None] * 4        # no category to give
    assert [shown_category(v, None, False) for v in (40.44, 40.45, 49.46)] == ["reduced", "mildly reduced",
                                                                                "normal or preserved"]
    assert shown_category(30.0, "pediatric", False) == shown_category(30.0, None, True) == "n/a"
    assert category_span(0.5, 3) == "reduced" and category_span(99.0, 3) == "normal or preserved"   # clamped to 0-100


def test_a_clip_with_no_heartbeat_found_gets_no_best_estimate_unless_it_is_one_beat_long():
    """2,000 frames at an assumed 30 fps were 'seen as one heartbeat' and still got 'Best estimate: EF 61.7%'."""
    views = {ATTENTIVE: View(55, 8.0, 0.4, False), BEAT: View(58, 3.3, 0.1, False)}
    whole = best_estimate(views, prediction(55, 58, beat=(2000.0, "whole clip"), fps=30.0))
    assert whole.ef is None and whole.reason == ("no heartbeat was found in the clip, so the models saw all its 66.7 s "
                                                 "as one beat (a heart rate of 1 bpm)")
    one_beat = best_estimate(views, prediction(55, 58, beat=(40.0, "whole clip"), fps=50.0))     # 0.8 s: 75 bpm
    assert one_beat.ef == 58
    assert best_estimate(views, prediction(55, 58, beat=(2000.0, "estimated"), fps=30.0)).ef == 58   # found: kept


def test_a_clip_that_ends_before_its_heartbeat_does_gets_no_best_estimate():
    """A clip of 40 frames with a 75-frame beat was read with its last frame held for 7 of the 16 frames and still
    got a best estimate, though the page said part of the cycle was missing."""
    views = {ATTENTIVE: View(55, 8.0, 0.4, False), BEAT: View(58, 3.3, 0.1, False)}
    held = best_estimate(views, prediction(55, 58, beat=(75.0, "ground truth"), fps=50.0, held=7))
    assert held.ef is None and held.reason == ("the clip ends before its heartbeat does, so the last 7 of the 16 "
                                               "frames the models saw repeat its last frame: part of the cycle is "
                                               "missing")
    assert best_estimate(views, prediction(55, 58, beat=(75.0, "ground truth"), fps=50.0)).ef == 58
