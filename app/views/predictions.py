"""View 1: each model's EF on the clip, through its attentive probe and, where one ships, through the beat
view's probe, beside the ground truth when known and each probe's phantom test error, with the
out-of-distribution score and, for phantom-trained models, the plain warning that their EF is not a
measurement."""
from __future__ import annotations

from app.session import cached, get_clip
from echo.degrade import label_words
from explain.analysis.best_estimate import (benchmark_split, best_estimate, disagreement_words, probe_views,
                                            records_apply)
from explain.analysis.crop_check import crop_words
from explain.analysis.ood import declared_shift, flag_rate_words, ood_words
from explain.analysis.pair import LoadedModel, pair_key
from explain.analysis.predict import EF_CATEGORY_WORDS, Prediction, near_blank_words, predict, shown_category
from model_zoo.evaluate.bands import recorded, weakest
from model_zoo.evaluate.format import plus_minus
from model_zoo.probe_io import BEAT_PROBE, PROBE


def run_at_fewer_frames(frames: int) -> str:
    """The one sentence start for a model run at fewer frames than it was saved with (its recorded figures are
    its own count's): the prediction card and the Evidence tab each end it with what that means there."""
    return f"Run at {frames} frames ('Frames for large checkpoints'), not the count it was saved with"


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
    band = _band if records_apply(p, population, degradation) else (lambda *_: "")
    results = ((model.wrapper.card or {}).get("results") or {}) if model is not None else {}
    # each shown EF's recorded test error ('' where none is recorded, or for the model as it runs here)
    probe_words = probe_test_words(model and model.probe, results) if p.ef is not None else ""
    beat_words = (probe_test_words(model and model.beat_probe, results.get("beat_probe"))
                  if p.ef_beat is not None else "")
    glance = _at_a_glance(p, truth, model, population, degradation)
    # with the table, the paragraphs go under 'details' and their all-black warnings are said apart, shown
    blank_inline = (lambda *_: "") if glance else _near_blank
    if p.ef is None and p.ef_beat is None:
        head = ("No EF probe for this model: it gives tokens and attention, not EF. To bring a "
                "V-JEPA EF probe of it: `python -m model_zoo.convert.export CHECKPOINT --out FOLDER --probe PROBE "
                "--ef-mean M --ef-std S`, then load FOLDER.")
    elif p.ef is None:
        head = "No attentive EF probe for this model."
    else:
        head = (f"**EF {p.ef:.1f}%**{err(p.ef)}: attentive probe"
                f"{_after_semicolon(probe_words)}.{band(model, PROBE, p.ef)}"
                f"{blank_inline(p.ef, p.blank[0])}")
    # shown: the title (level in both cards), a disagreement, the best estimate and both EFs side by side, the ground
    # truth and every warning; the words for each probe (its test error, its record by EF band, the crop check, an
    # OOD score within the distribution) under 'details', closed: about 500 words a card had come before the reader
    # reached them. A card with fewer than two probes has no table: its words are its content, all shown.
    lines, details = [f"### {p.name} ({p.family.upper()})"], []
    disagree = disagreement_words(p.name, p.ef, p.ef_beat)
    if disagree:
        lines.append(f"⚠️ {disagree}")
    words = details if glance else lines
    if glance:
        lines.append(glance)
        lines += [f"⚠️ {w}" for w in (near_blank_words(p.ef, p.blank[0], "The attentive probe"),
                                     near_blank_words(p.ef_beat, p.blank[1], "The beat view's probe")) if w]
        details.append(_legend(population, degradation))
    words.append(head)
    if p.ef_beat is not None:
        same = "the same probe" if p.ef is not None else "an attentive probe"
        words.append(f"Beat view **EF {p.ef_beat:.1f}%**{err(p.ef_beat)}: {same} given each token beside its change "
                     f"over the beat{_after_semicolon(beat_words)}.{band(model, BEAT_PROBE, p.ef_beat)}"
                     f"{blank_inline(p.ef_beat, p.blank[1])}")
    shown_errors = bool(probe_words or beat_words)           # the words below name only the errors shown
    if degradation and (p.ef is not None or p.ef_beat is not None):
        table = ("; the table's are the benchmark's under its six degradations" if glance and
                 benchmark_split(population, degradation) == "degraded" else "")
        recorded_for = ("the test errors beside each EF are for clean clips" if shown_errors else
                        "no test error recorded for this model describes a degraded clip")
        lines.append(f"⚠️ A degraded clip ({label_words(degradation)}): {recorded_for}{table}; the benchmark's "
                     "degraded columns and the degradation lab say how far each model moves.")
    if population == "pediatric" and (p.ef is not None or p.ef_beat is not None):
        where = "under the details line below" if glance else "above"
        table = (f"; the table gives the benchmark's pediatric errors, the words {where} the adult ones" if glance else
                 f"; the test errors {where} are the adult ones" if shown_errors else "")
        lines.append(f"A pediatric clip: the probes learned from adult clips only, so this is zero-shot{table}.")
    if p.crop:
        crop = crop_words(p.ef, p.ef_beat, p.crop)
        (lines if crop.startswith("⚠️") else words).append(crop)
    if fewer_frames and (p.ef is not None or p.ef_beat is not None):
        lines.append(f"{run_at_fewer_frames(fewer_frames)}: the test errors recorded for it, and the out-of-distribution "
                     "reference fitted beside them, do not describe it here, so neither is shown.")
    elif model is not None and p.ef is not None and not probe_words:
        lines.append("No test error is recorded for this probe: nothing here measures how far its EF can be off.")
    if truth is not None:
        lines.append(f"Ground truth: {truth:.1f}%")
    if p.ood is not None:
        ood = ood_words(p.ood, declared_shift(population, degradation))
        flagged = p.ood["out_of_distribution"]
        (lines if flagged else words).append((f"**{ood}**" if flagged else ood) + _flag_rates(model, flagged))
    if details:
        lines.append(f"<details><summary>{DETAILS}</summary>\n\n" + "\n\n".join(details) + "\n\n</details>")
    if p.warning:
        lines.append(f"⚠️ {p.warning}")
    return "\n\n".join(lines)


DETAILS = "Each probe in words: its test errors, its record by EF band, the crop check, the out-of-distribution score"


def _near_blank(ef: float, blank: float | None) -> str:
    """A warning when an EF lies within BLANK_POINTS of what the same probe reads from an all-black clip."""
    words = near_blank_words(ef, blank)
    return f" ⚠️ {words}" if words else ""


def _at_a_glance(p: Prediction, truth: float | None, model: LoadedModel | None, population: str | None = None,
                 degradation: str | None = None) -> str:
    """The best estimate (explain.analysis.best_estimate), then both probes' EFs in one small table, each beside its
    benchmark error (the mean over probe seeds; for a pediatric clip the benchmark's zero-shot pediatric error, for a
    degraded clip its mean over the benchmark's six degradations), so the probe that reads EF better on such clips
    is seen before the words; '' with fewer than two probes."""
    views = probe_views(p, model, population, degradation)
    if len(views) < 2:
        return ""
    rows = ["| probe | EF | category | error | benchmark error | all-black clip reads |", "|---|---|---|---|---|---|"]
    for label, v in zip(("attentive (V-JEPA's protocol)", "beat view"), views.values()):
        error = f"{v.ef - truth:+.1f}" if truth is not None else "n/a"
        rows.append(f"| {label} | {v.ef:.1f}%{' ⚠️' * v.near_blank} | {shown_category(v.ef, population, v.near_blank)} | "
                    f"{error} | {'n/a' if v.mae is None else plus_minus(v.mae, v.std)} | "
                    f"{'n/a' if v.blank is None else f'{v.blank:.1f}%'} |")
    return f"{best_estimate(views, p, population, degradation).words(markdown=True)}\n\n" + "\n".join(rows)


def _legend(population: str | None, degradation: str | None) -> str:
    """What the at-a-glance table's columns mean."""
    clips = {"pediatric": "pediatric clips, zero-shot", "clean": "adult clips",
             "degraded": "adult clips under each of its six degradations (depth attenuation, shadow), their mean"}
    return (f"Benchmark error: each view's mean absolute error in EF points on phantom test "
            f"{clips[benchmark_split(population, degradation)]}, mean ± std over probe seeds. All-black clip: what the "
            f"probe reads from a clip with no heart in it; an EF near it (⚠️) cannot show that it read this heart. "
            f"{EF_CATEGORY_WORDS}")


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
