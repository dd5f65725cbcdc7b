"""The best estimate: the one EF a clinician reads first, through the probe whose benchmark error on this kind of
clip (adult, a child's: zero-shot, or degraded) is lower beyond the two spreads, with the error it typically makes
at such EFs and the heart-failure categories that error spans. Held back, with the reason, where the clip or the
probes give cause: an impossible EF, no heartbeat found (the whole clip seen as one beat of an impossible length),
a clip that ends before its beat does (part of the cycle unseen), no out-of-distribution reference or a flagged clip, two probes more than
DISAGREE_POINTS apart, benchmark errors missing or inside their spreads, the chosen EF near what its probe reads
from an all-black clip, or moved over crop_check.MOVES_POINTS by the crop check's shift.

One rule for the page's prediction card, `analyze`'s report.json and its command line.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from echo.degrade import BENCHMARK_CONDITIONS
from explain.analysis.beat import BEAT_SECONDS
from explain.analysis.crop_check import MOVES_POINTS, moved
from explain.analysis.pair import LoadedModel
from explain.analysis.predict import BLANK_POINTS, Prediction, ef_category, is_impossible, reads_like_blank
from model_zoo.evaluate.bands import recorded
from model_zoo.evaluate.summary import benchmark_mean, benchmark_mean_std
from model_zoo.probe_io import BEAT_PROBE, PROBE

DISAGREE_POINTS = 10.0      # two probes of one model this far apart: read neither alone
# (name in words, probe file stem, Prediction field, index in Prediction.blank, the card's results key or None)
PROBE_VIEWS = (("attentive probe", PROBE, "ef", 0, None), ("beat view's probe", BEAT_PROBE, "ef_beat", 1, "beat_probe"))


@dataclass(frozen=True)
class View:
    """One probe's EF on the clip, its benchmark error (mean, std over probe seeds) for such clips, whether the EF
    lies near its all-black reading, its recorded error at such EFs (None where not recorded), its crop move and
    its all-black reading."""
    ef: float
    mae: float | None
    std: float | None
    near_blank: bool
    typical: float | None = None
    crop_move: float = 0.0      # how far it moves with the crop check's shift (crop_check.moved; 0: not checked)
    blank: float | None = None  # what the probe reads from an all-black clip (None: not measured)


@dataclass(frozen=True)
class BestEstimate:
    """ef: the estimate, or None where held back (`reason` says why; `see`: where the page shows the cause).
    view / other: the chosen probe and the other one; off: its typical error, `typical_recorded` when from the
    EF-band record (at such EFs), else its benchmark error for such clips; categories: those ef ± off spans
    ('' for a child's clip); kind: 'pediatric', 'degraded' or ''."""
    ef: float | None
    reason: str = ""
    see: str = ""
    view: str = ""
    other: str = ""
    mae: float | None = None
    other_mae: float | None = None
    off: float | None = None
    typical_recorded: bool = False
    categories: str = ""
    kind: str = ""

    def words(self, markdown: bool = False) -> str:
        """The line said first: the estimate with its typical error, or 'No best estimate: ' and why (with where the
        page shows the cause when markdown, for the page)."""
        if self.ef is None:
            return f"No best estimate: {self.reason}{f' ({self.see})' if markdown and self.see else ''}."
        bold = "**" if markdown else ""
        kind = {"pediatric": " (a child's clip: zero-shot)", "degraded": " (a degraded clip)"}.get(self.kind, "")
        where = "at such EFs on phantom test clips" if self.typical_recorded else "on such phantom test clips"
        span = f" ({self.categories}, within its typical error)" if self.categories else ""
        return (f"{bold}Best estimate{kind}: EF {self.ef:.1f}%{span}, "
                f"through the {self.view}{bold}, typically off by {self.off:.1f} EF points {where}; its benchmark "
                f"error is the lower ({self.mae:.2f} against {self.other_mae:.2f} for the {self.other}). Not a "
                "measurement.")

    def to_dict(self) -> dict:
        """Its fields and words for report.json, the EF as read, as report.json's other EFs."""
        return {**dataclasses.asdict(self), "words": self.words()}


def benchmark_split(population: str | None, degradation: str | None) -> str:
    """Which of the benchmark's errors describe the clip: a child's are the pediatric ones (zero-shot), whether
    degraded or not (the benchmark has no degraded pediatric column); else a degraded clip's the six conditions'."""
    return "pediatric" if population == "pediatric" else "degraded" if degradation else "clean"


def benchmark_error(bench: dict, split: str) -> tuple[float | None, float | None]:
    """(mean, std over probe seeds) of a probe view's benchmark error on 'clean' or 'pediatric' clips, or
    'degraded': its mean over the six benchmark conditions; (None, None) where the card lacks it."""
    if split != "degraded":
        figures = bench.get(split) or {}
        return figures.get("mae"), figures.get("mae_std")
    if not all(isinstance(((bench.get("degraded") or {}).get(c) or {}).get("mae"), (int, float))
               for c in BENCHMARK_CONDITIONS):
        return None, None
    return benchmark_mean(bench), benchmark_mean_std(bench)


def records_apply(p: Prediction, population: str | None, degradation: str | None) -> bool:
    """Whether the EF-band record (measured on clean adult phantom clips) describes this clip: not a child's, a
    degraded one or one the out-of-distribution check flags."""
    return population != "pediatric" and not degradation and not (p.ood and p.ood.get("out_of_distribution"))


def probe_views(p: Prediction, model: LoadedModel | None, population: str | None = None,
                degradation: str | None = None) -> dict[str, View]:
    """{probe in words: View} for each probe that gave an EF. The recorded figures (benchmark errors from the
    model card, the EF-band record) describe the model at its own frame count only: run at fewer, it has none."""
    own = model if model is not None and model.at_own_frames else None
    results = ((own.wrapper.card or {}).get("results") or {}) if own is not None else {}
    split, records = benchmark_split(population, degradation), own is not None and records_apply(p, population, degradation)
    crop = p.crop if p.crop and not p.crop.get("skipped") else {}
    views = {}
    for name, stem, key, i, bench_key in PROBE_VIEWS:
        ef = getattr(p, key)
        if ef is None:
            continue
        mae, std = benchmark_error((results.get(bench_key) if bench_key else results) or {}, split)
        typical = recorded(own.folder, stem, ef) if records else None
        views[name] = View(ef, mae, std, reads_like_blank(ef, p.blank[i]), None if typical is None else typical["mae"],
                           moved(ef, crop.get(key)), p.blank[i])
    return views


def disagreement_words(name: str, ef: float | None, ef_beat: float | None) -> str:
    """The warning where a model's two probes lie over DISAGREE_POINTS apart ('' otherwise): the page's card, the
    command line and report.html say it alike, whatever else holds the best estimate back."""
    if ef is None or ef_beat is None or not abs(ef - ef_beat) > DISAGREE_POINTS:
        return ""
    return f"{name}: its two probes disagree by {abs(ef - ef_beat):.0f} EF points ({ef:.1f}% against {ef_beat:.1f}%): " \
           "read neither alone."


def best_estimate(views: dict[str, View], p: Prediction, population: str | None = None,
                  degradation: str | None = None) -> BestEstimate | None:
    """The best estimate from both probes' views (probe_views), or None where the model has fewer than two."""
    if len(views) < 2:
        return None
    for view, v in views.items():             # before any comparison: NaN compares false with everything
        if not math.isfinite(v.ef) or is_impossible(v.ef):
            return BestEstimate(None, f"the {view} reads {v.ef:.1f}%, an impossible EF")
    seconds = p.view.beat_seconds
    if p.view.beat[1] == "whole clip" and seconds is not None and not BEAT_SECONDS[0] <= seconds <= BEAT_SECONDS[1]:
        return BestEstimate(None, f"no heartbeat was found in the clip, so the models saw all its {seconds:.1f} s as "
                                  f"one beat (a heart rate of {60 / seconds:.0f} bpm)")
    if p.view.held:
        return BestEstimate(None, f"the clip ends before its heartbeat does, so the last {p.view.held} of the "
                                  f"{p.view.n_frames} frames the models saw repeat its last frame: part of the cycle "
                                  "is missing")
    if p.ood is None:
        return BestEstimate(None, "nothing checks whether this clip is like the clips the model learned from")
    if p.ood.get("out_of_distribution"):
        return BestEstimate(None, "the clip lies outside the phantom training distribution", "below")
    (a, va), (b, vb) = views.items()
    if abs(va.ef - vb.ef) > DISAGREE_POINTS:
        return BestEstimate(None, "its two probes disagree", "above")
    if va.mae is None or vb.mae is None:
        return BestEstimate(None, "no benchmark error is recorded for this model's probes")
    if abs(va.mae - vb.mae) <= math.hypot(va.std or 0.0, vb.std or 0.0):
        return BestEstimate(None, "the two probes' benchmark errors lie inside their spreads; read both")
    (best, v), (other, w) = sorted(views.items(), key=lambda kv: kv[1].mae)
    if v.near_blank:
        # the numbers are the near-blank warning's, said beside it: here only why there is no estimate
        return BestEstimate(None, f"the {best}, the one with the lower benchmark error, reads within {BLANK_POINTS:g} "
                                  "points of what it reads from an all-black clip", "the warning below")
    if v.crop_move > MOVES_POINTS:
        return BestEstimate(None, f"the {best}, the one with the lower benchmark error, moves {v.crop_move:.1f} "
                                  f"points with the clip {p.crop['pixels']} px higher or lower", "the crop check below")
    off = v.typical if v.typical is not None else v.mae
    kind = "pediatric" if population == "pediatric" else "degraded" if degradation else ""
    return BestEstimate(v.ef, view=best, other=other, mae=v.mae, other_mae=w.mae, off=off,
                        typical_recorded=v.typical is not None,
                        categories="" if population == "pediatric" else category_span(v.ef, off), kind=kind)


def clip_estimate(p: Prediction, model: LoadedModel, clip_meta: dict) -> BestEstimate | None:
    """The best estimate for a clip's prediction, its population and degradation read from the clip's meta (what a
    phantom file says of itself), as `analyze` and the audit give it beside the page's."""
    population, degradation = clip_meta.get("population"), clip_meta.get("degradation")
    return best_estimate(probe_views(p, model, population, degradation), p, population, degradation)


def category_span(ef: float, off: float) -> str:
    """The categories a possible EF spans give or take its typical error: 'reduced', 'reduced to mildly
    reduced', 'mildly reduced to normal or preserved', 'reduced to normal or preserved'."""
    low, high = (ef_category(min(max(v, 0.0), 100.0)) for v in (ef - off, ef + off))
    return low if low == high else f"{low} to {high}"
