"""View 5, latent vs pixel: the teaching views (token grid and masks, MAE reconstruction, JEPA
prediction, anatomy read-out) and the speckle test, each figure with its plain caption."""
from __future__ import annotations

from app.session import cached, get_clip
from app.views.numbers import seed_from
from explain.analysis.latent_pixel import TeachingView, speckle_view, teaching_views
from explain.analysis.pair import LoadedModel, pair_key

INTRO = ("**Why latent prediction can ignore speckle.** Speckle is the grainy texture of ultrasound; it "
         "changes from frame to frame and says nothing about the heart. A model that must redraw pixels "
         "(MAE) has to deal with it; a model that predicts summaries (JEPA) can learn to leave it out.")


def views(clip_key: str, pair: dict[str, LoadedModel], seed: int = 0, time_slot: int = 0) -> list[TeachingView]:
    names = pair_key(pair)
    seed = seed_from(seed, "Mask seed")
    return cached((clip_key, "latent-pixel", names, seed, int(time_slot)),
                  lambda: teaching_views(pair, get_clip(clip_key), seed, int(time_slot)))


def speckle(pair: dict[str, LoadedModel]) -> TeachingView:
    return cached(("speckle", pair_key(pair)), lambda: speckle_view(pair))


def caption_markdown(v: TeachingView) -> str:
    return f"**{v.title}.** {v.caption}"
