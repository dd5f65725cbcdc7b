"""View 5, latent vs pixel: the teaching views (token grid and masks, MAE reconstruction, JEPA
prediction, anatomy read-out) and the speckle test, each figure with its plain caption."""
from __future__ import annotations

import dataclasses
import json

from app.session import cached, get_clip
from app.views.numbers import seed_from
from explain.analysis.latent_pixel import TeachingView, speckle_view, teaching_views
from explain.analysis.pair import LoadedModel, pair_key
from model_zoo.evaluate.format import plus_minus

INTRO = ("**Why latent prediction can ignore speckle.** Speckle is the grainy texture of ultrasound: an "
         "interference pattern of the tissue's tiny scatterers. It moves with the tissue for a few frames (speckle "
         "tracking follows it), but its pattern is random, so the grain inside a hidden box cannot be guessed from "
         "the boxes around it. A model that must redraw pixels (MAE) has to deal with it: trained on squared "
         "error, it cannot draw grain it cannot predict, so it draws a blur and still pays the grain's variance "
         "in its loss (below, it redraws the hidden boxes better than a fill of each box's true brightness, and keeps "
         "little of the grain). A model that "
         "predicts summaries (JEPA) need not represent the grain at all. Leaving the grain out is not the same as "
         "robustness: the "
         "speckle test below says how much each model notices fresh grain, the degradation lab and the evidence "
         "tab how much a shadow or attenuation moves its EF.")


def views(clip_key: str, pair: dict[str, LoadedModel], seed: int = 0, time_slot: int = 0) -> list[TeachingView]:
    names = pair_key(pair)
    seed = seed_from(seed, "Mask seed")
    return cached((clip_key, "latent-pixel", names, seed, int(time_slot)),
                  lambda: teaching_views(pair, get_clip(clip_key), seed, int(time_slot)))


def speckle(pair: dict[str, LoadedModel]) -> TeachingView:
    view = cached(("speckle", pair_key(pair)), lambda: speckle_view(pair))
    return dataclasses.replace(view, caption=view.caption + degradation_words(pair))


def degradation_words(pair: dict[str, LoadedModel]) -> str:
    """The models' measured loss under the benchmark's degradations (their cards, through V-JEPA's attentive probe),
    beside the speckle test: a class shown only the test would take 'ignores grain' for 'robust'. '' unless every
    model runs at its own frame count and its card has the figure from the same benchmark (equal clip counts)."""
    if not pair or not all(m.at_own_frames for m in pair.values()):
        return ""
    results = [(m.name, (m.wrapper.card or {}).get("results") or {}) for m in pair.values()]
    if len({json.dumps(r.get("n"), sort_keys=True) for _, r in results}) != 1:        # one benchmark: one set of counts
        return ""
    if not all(isinstance(r.get("mean_rel_degradation_pct"), (int, float)) for _, r in results):
        return ""
    lost = " and ".join(plus_minus(r["mean_rel_degradation_pct"], r.get("mean_rel_degradation_pct_std"), 1, signed=True)
                        + f"% for {name}" for name, r in results)
    return (" Ignoring fresh grain is not robustness: under the benchmark's shadows and depth attenuation the EF "
            f"error through V-JEPA's attentive probe grows by {lost} (mean ± std over probe seeds; phantom test "
            "clips, Models and evidence tab).")


def caption_markdown(v: TeachingView) -> str:
    return f"**{v.title}.** {v.caption}"
