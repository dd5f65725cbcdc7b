"""View 1: each model's EF on the clip, through its attentive probe and, where one ships, through the beat
view's probe, beside the ground truth when known and each probe's phantom test error, with the
out-of-distribution score and, for phantom-trained models, the plain warning that their EF is not a
measurement."""
from __future__ import annotations

import math
from dataclasses import dataclass

from app.session import cached, get_clip
from echo.degrade import BENCHMARK_CONDITIONS, label_words
from explain.analysis.crop_check import MOVES_POINTS, crop_words, moved
from explain.analysis.ood import declared_shift, flag_rate_words, ood_words
from explain.analysis.pair import LoadedModel, pair_key
from explain.analysis.predict import (BLANK_POINTS, EF_CATEGORY_WORDS, Prediction, ef_category, is_impossible,
                                      near_blank_words, predict, reads_like_blank, shown_category)
from model_zoo.evaluate.format import plus_minus
from model_zoo.evaluate.summary import benchmark_mean, benchmark_mean_std
from model_zoo.experiments.ef_bands import recorded, weakest
from model_zoo.probe_io import BEAT_PROBE, PROBE


def predictions(clip_key: str, pair: dict[str, LoadedModel]) -> dict[str, Prediction]:
    names = pair_key(pair)
    return cached((clip_key, "predict", names), lambda: predict(pair, get_clip(clip_key), crop_check=True))


def probe_test_words(probe, benchmark: dict | None = None) -> str:
    """'phantom test mean absolute error x' from a shipped probe's card, or '' (a probe with no recorded test); with the
    benchmark's numbers of the same view (the model card's results), the mean over every probe seed beside
    it, so the shipped probe's own figure (the best on val of several) is not read as the benchmark's."""
    mae = (getattr(probe, "meta", None) or {}).get("test", {}).get("clean", {}).get("mae")
    if mae is None:
        return ""
    seeds = (benchmark or {}).get("probe_seeds") or []
    clean = (benchmark or {}).get("clean", {})
    if len(seeds) < 2 or clean.get("mae") is None:
        return f"phantom test mean absolute error {mae:.2f}"
    return (f"phantom test mean absolute error {mae:.2f} (this probe, the best on val of {len(seeds)} probe seeds; the "
            f"benchmark reports their mean, {plus_minus(clean['mae'], clean.get('mae_std'))})")


def _after_semicolon(words: str) -> str:
    return f"; {words}" if words else ""


def _band_words(band: list[int]) -> str:
    low, high = band
    return f"under {high}%" if low == 0 else f"{low}% or more" if high >= 100 else f"{low}-{high}%"


def _band(model: LoadedModel | None, stem: str, ef: float) -> str:
    """What the record of this probe's errors by EF band (model_zoo.experiments.ef_bands) says beside an EF: the
    band of predictions holding it, and the true-EF band where the probe erred most; '' where not measured."""
    if model is None:
        return ""
    out = ""
    if (r := recorded(model.folder, stem, ef)) is not None:
        out += (f" On phantom test clips where this probe predicted {_band_words(r['band'])}, it was off by "
                f"{r['mae']:.1f} on average ({r['n']} clips; mean predicted - true {r['bias']:+.1f}).")
    if (w := weakest(model.folder, stem)) is not None:
        out += (f" Its weakest range is a true EF {_band_words(w['band'])}: off by {w['mae']:.1f} ({w['n']} clips; "
                f"mean predicted - true {w['bias']:+.1f}).")
    return out


DISAGREE_POINTS = 10.0      # two probes of one model this far apart: say so above both


def prediction_card(p: Prediction, truth: float | None, model: LoadedModel | None = None,
                    population: str | None = None, degradation: str | None = None) -> str:
    """Markdown for one model's column; model (optional) gives each probe's recorded test error; population:
    the clip's, when known (a pediatric clip is zero-shot for probes trained on adult clips); degradation: what
    was done to a phantom clip, when known (the recorded errors are for clean clips)."""
    err = lambda ef: f" (error {ef - truth:+.1f} EF points)" if truth is not None else ""
    # the recorded figures describe the model at its own frame count, not run at fewer ('Frames for large checkpoints')
    fewer_frames = model.frames_override if model is not None and not model.at_own_frames else None
    model = model if model is not None and model.at_own_frames else None
    # errors by EF band were measured on clean adult phantom clips: beside a child's, a degraded clip's or a clip
    # the OOD check flags they mislead
    flagged = bool(p.ood and p.ood.get("out_of_distribution"))
    records_apply = population != "pediatric" and not degradation and not flagged
    band = _band if records_apply else (lambda *_: "")
    results = ((model.wrapper.card or {}).get("results") or {}) if model is not None else {}
    if p.ef is None and p.ef_beat is None:
        head = ("No EF probe for this model: it gives tokens and attention, not EF. To bring a "
                "V-JEPA EF probe of it: `python -m model_zoo.convert.export CHECKPOINT --out FOLDER --probe PROBE "
                "--ef-mean M --ef-std S`, then load FOLDER.")
    elif p.ef is None:
        head = "No attentive EF probe for this model."
    else:
        head = (f"**EF {p.ef:.1f}%**{err(p.ef)}: attentive probe"
                f"{_after_semicolon(probe_test_words(model and model.probe, results))}.{band(model, PROBE, p.ef)}"
                f"{_near_blank(p.ef, p.blank[0])}")
    lines = []                       # first a disagreement, the title, both EFs side by side; then the words
    if p.ef is not None and p.ef_beat is not None and abs(p.ef - p.ef_beat) > DISAGREE_POINTS:
        lines.append(f"⚠️ {p.name}: its two probes disagree by {abs(p.ef - p.ef_beat):.0f} EF points ({p.ef:.1f}% against "
                     f"{p.ef_beat:.1f}%): read neither alone.")
    def typical(stem: str, ef: float) -> float | None:      # the probe's recorded error where it predicted such EFs
        r = recorded(model.folder, stem, ef) if records_apply and model is not None else None
        return None if r is None else r["mae"]
    lines += [f"### {p.name}", *filter(None, [_at_a_glance(p, truth, results, population, degradation, typical)]), head]
    if p.ef_beat is not None:
        beat_mae = _after_semicolon(probe_test_words(model and model.beat_probe, results.get("beat_probe")))
        lines.append(f"Beat view **EF {p.ef_beat:.1f}%**{err(p.ef_beat)}: the same probe given each token "
                     f"beside its change over the beat{beat_mae}.{band(model, BEAT_PROBE, p.ef_beat)}"
                     f"{_near_blank(p.ef_beat, p.blank[1])}")
    if degradation and (p.ef is not None or p.ef_beat is not None):
        table = ("; the table's are the benchmark's under its six degradations" if p.ef is not None and
                 p.ef_beat is not None and _split(population, degradation) == "degraded" else "")
        lines.append(f"⚠️ A degraded clip ({label_words(degradation)}): the test errors beside each EF are for clean "
                     f"clips{table}; the benchmark's degraded columns and the degradation lab say how far each model "
                     "moves.")
    if population == "pediatric" and (p.ef is not None or p.ef_beat is not None):
        lines.append("A pediatric clip: the probes learned from adult clips only, so this is zero-shot; the "
                     "table gives the benchmark's pediatric errors, the words above the adult ones.")
    if p.crop:
        lines.append(crop_words(p.ef, p.ef_beat, p.crop))
    if fewer_frames and (p.ef is not None or p.ef_beat is not None):
        lines.append(f"Run at {fewer_frames} frames ('Frames for large checkpoints'), not the count it was saved "
                     "with: the test errors recorded for it do not describe it here, so none is shown.")
    elif model is not None and p.ef is not None and not probe_test_words(model.probe):
        lines.append("No test error is recorded for this probe: nothing here measures how far its EF can be off.")
    if truth is not None:
        lines.append(f"Ground truth: {truth:.1f}%")
    if p.ood is not None:
        words = ood_words(p.ood, declared_shift(population, degradation))
        lines.append((f"**{words}**" if p.ood["out_of_distribution"] else words)
                     + _flag_rates(model, p.ood["out_of_distribution"]))
    if p.warning:
        lines.append(f"⚠️ {p.warning}")
    return "\n\n".join(lines)


def _near_blank(ef: float, blank: float | None) -> str:
    """A warning when an EF lies within BLANK_POINTS of what the same probe reads from an all-black clip."""
    words = near_blank_words(ef, blank)
    return f" ⚠️ {words}" if words else ""


def _at_a_glance(p: Prediction, truth: float | None, results: dict, population: str | None = None,
                 degradation: str | None = None, typical=lambda stem, ef: None) -> str:
    """A best estimate (best_estimate), then both probes' EFs in one small table, each beside its benchmark error
    (the mean over probe seeds; for a pediatric clip the benchmark's zero-shot pediatric error, for a degraded clip
    its mean over the benchmark's six degradations), so the probe that reads EF better on such clips is seen before
    the words; '' with fewer than two probes. typical(stem, ef): the probe's recorded error at such EFs, or None."""
    if p.ef is None or p.ef_beat is None:
        return ""
    split = _split(population, degradation)
    rows = ["| probe | EF | category | error | benchmark error | all-black clip reads |", "|---|---|---|---|---|---|"]
    views = {}
    crop = p.crop if p.crop and not p.crop.get("skipped") else {}
    for name, stem, key, bench, blank in (("attentive (V-JEPA's protocol)", PROBE, "ef", results, p.blank[0]),
                                          ("beat view", BEAT_PROBE, "ef_beat", results.get("beat_probe"), p.blank[1])):
        ef = getattr(p, key)
        mae, std = benchmark_error(bench or {}, split)
        near = reads_like_blank(ef, blank)                            # near what it reads from no heart at all
        views["attentive probe" if stem == PROBE else "beat view's probe"] = View(
            ef, mae, std, near, typical(stem, ef), moved(ef, crop.get(key)))
        error = f"{ef - truth:+.1f}" if truth is not None else "n/a"
        rows.append(f"| {name} | {ef:.1f}%{' ⚠️' * near} | {shown_category(ef, population, near)} | {error} | "
                    f"{'n/a' if mae is None else plus_minus(mae, std)} | {'n/a' if blank is None else f'{blank:.1f}%'} |")
    clips = {"pediatric": "pediatric clips, zero-shot", "clean": "adult clips",
             "degraded": "adult clips under each of its six degradations (depth attenuation, shadow), their mean"}
    headline = best_estimate(views, p, population, degradation)
    return (f"{headline}\n\n" if headline else "") + "\n".join(rows) + (
        f"\n\nBenchmark error: each view's mean absolute error in EF points on phantom test {clips[split]}, mean ± "
        "std over probe seeds. All-black clip: what the probe reads from a clip with no heart in it; an EF near it "
        f"(⚠️) cannot show that it read this heart. {EF_CATEGORY_WORDS}")


@dataclass(frozen=True)
class View:
    """One probe's EF on the clip, its benchmark error (mean, std over probe seeds) for such clips, whether the EF
    lies near its all-black reading, its recorded error at such EFs (None where not recorded) and its crop move."""
    ef: float
    mae: float | None
    std: float | None
    near_blank: bool
    typical: float | None = None
    crop_move: float = 0.0      # how far it moves with the crop check's shift (crop_check.moved; 0: not checked)


def best_estimate(views: dict[str, View], p: Prediction, population: str | None, degradation: str | None) -> str:
    """The line a clinician reads first: one EF, through the view whose benchmark error is lower beyond the two
    spreads, with the categories its typical error spans; or why there is none."""
    for view, v in views.items():             # before any comparison: NaN compares false with everything
        if not math.isfinite(v.ef) or is_impossible(v.ef):
            return f"No best estimate: the {view} reads {v.ef:.1f}%, an impossible EF."
    if p.ood is None:
        return "No best estimate: nothing checks whether this clip is like the clips the model learned from."
    if p.ood.get("out_of_distribution"):
        return "No best estimate: the clip lies outside the phantom training distribution (below)."
    if abs(p.ef - p.ef_beat) > DISAGREE_POINTS:
        return "No best estimate: its two probes disagree (above)."
    (a, va), (b, vb) = views.items()
    if va.mae is None or vb.mae is None:
        return "No best estimate: no benchmark error is recorded for this model's probes."
    if abs(va.mae - vb.mae) <= math.hypot(va.std or 0.0, vb.std or 0.0):
        return "No best estimate: the two probes' benchmark errors lie inside their spreads; read both."
    (best, v), (other, w) = sorted(views.items(), key=lambda kv: kv[1].mae)
    if v.near_blank:
        return (f"No best estimate: the {best}, the one with the lower benchmark error, reads {v.ef:.1f}%, within "
                f"{BLANK_POINTS:g} points of what it reads from an all-black clip.")
    if v.crop_move > MOVES_POINTS:
        return (f"No best estimate: the {best}, the one with the lower benchmark error, moves {v.crop_move:.1f} points "
                f"with the clip {p.crop['pixels']} px higher or lower (the crop check below).")
    off = v.typical if v.typical is not None else v.mae
    where = "at such EFs on phantom test clips" if v.typical is not None else "on such phantom test clips"
    span = "" if population == "pediatric" else category_span(v.ef, off)
    kind = (" (a child's clip: zero-shot)" if population == "pediatric" else
            " (a degraded clip)" if degradation else "")
    return (f"**Best estimate{kind}: EF {v.ef:.1f}%{f' ({span})' if span else ''}, through the {best}**, typically "
            f"off by {off:.1f} EF points {where}; its benchmark error is the lower ({v.mae:.2f} against {w.mae:.2f} "
            f"for the {other}). Not a measurement.")


def category_span(ef: float, off: float) -> str:
    """The categories a possible EF spans give or take its typical error: 'reduced', 'reduced to mildly
    reduced', 'mildly reduced to normal or preserved', 'reduced to normal or preserved'."""
    low, high = (ef_category(min(max(v, 0.0), 100.0)) for v in (ef - off, ef + off))
    return low if low == high else f"{low} to {high}"


def _split(population: str | None, degradation: str | None) -> str:
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


def _flag_rates(model: LoadedModel | None, flagged: bool) -> str:
    """What the OOD verdict is worth, as measured by `python -m explain.analysis.ood --check`."""
    words = flag_rate_words(model.ood.flag_rates if model is not None and model.ood is not None else None)
    caveat = "" if flagged else ": 'within' does not rule out a shift"
    return f" The check {words}{caveat}." if words else ""


def prediction_cards(clip_key: str, pair: dict[str, LoadedModel]) -> dict[str, str]:
    """{role: markdown}."""
    clip = get_clip(clip_key)
    truth = None if clip.truth is None else clip.truth.ef
    population, degradation = clip.meta.get("population"), clip.meta.get("degradation")
    return {role: prediction_card(p, truth, pair[role], population, degradation)
            for role, p in predictions(clip_key, pair).items()}
