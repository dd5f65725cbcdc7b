"""Audit a set of clips: one row per clip (EF predicted vs true for both models, errors, sensitivity to
the benchmark degradations, out-of-distribution flags), summary numbers and plots, CSV and a
standalone HTML report. A folder in EchoNet layout (FileList.csv) brings its EF; otherwise every
readable clip file in the folder is audited, and unreadable ones are listed with the reason.
"""
from __future__ import annotations

import csv
import functools
import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from echo.clip import Clip, ClipError
from echo.degrade import BENCHMARK_CONDITIONS, label_words
from echo.echonet import FILELIST, VIDEOS, EchoNetDataset
from echo.outputs import check_output_folder, output_folder
from echo.readers import read_clip, reads_as_clip
from explain.analysis.attention import attention
from explain.analysis.best_estimate import clip_estimate
from explain.analysis.crop_check import SHIFT_SHARE, moved, shift_pixels
from explain.analysis.degradation import condition_ef_views, mean_abs_change
from explain.analysis.ood import flag_rate_words
from explain.analysis.pair import LoadedModel
from explain.analysis.predict import BLANK_POINTS, is_impossible, near_blank, predict
from explain.analysis.run_record import record_words, run_record
from explain.analysis.skipped_views import Rerun, on_models_that_fit
from explain.attention_maps import default_readout
from model_zoo.plot_style import FAMILY_COLOURS, TEMPLATE

PHANTOM_NOTE = "EF predictions from models that learned from a simulated phantom are not measurements."
OOD_NOTE = "*_ood: the clip's embedding lies beyond the 99th percentile of held-out phantom clips."
COLUMNS = ("Columns: EFs in %; *_abs_error, *_sensitivity and *_crop_move in EF points. *_sensitivity: the mean "
           "|EF change| over the benchmark's six degradations; *_crop_move: the largest |EF change| with the input "
           f"{100 * SHIFT_SHARE:.0f}% of its side higher or lower ({shift_pixels(112)} px at 112 px, as `analyze` gives it); *_beat: through the beat view's probe; *_impossible: an "
           f"EF outside 0-100%; *_near_blank: an EF within {BLANK_POINTS:g} points of what the same probe reads from an "
           "all-black clip (this EF alone cannot show that it read the heart; blank where not checked: a model too slow "
           "for the extra pass); *_focus: the rollout's focus ratio (1 = chance; read out through the model's EF probe where it "
           "has one, else the mean over tokens, as `analyze` and the Attention tab) on the phantom's cardiac structures, or on the "
           "traced LV border of an EchoNet clip (blank where the clip has neither, or none of its traced frames is among "
           "the frames the model sees); *_best_ef: the Predictions tab's best estimate, through *_best_probe (blank where "
           "held back: *_best_held_back says why).")
CLIP_SUFFIXES = {".avi", ".mp4", ".mov", ".m4v", ".dcm", ".dicom", ".npy", ".npz", ".zip"}
MAX_CLIPS = 500
BOOTSTRAP = 2000          # resamples of the clips for the EF MAE's 95% interval
MIN_BOOTSTRAP = 10        # clips an interval needs
WRITTEN = ("audit.csv", "audit.html", "audit.json")       # what an audit writes (an earlier one's are replaced)
NAMED_UNREADABLE = 5       # the summary names this many unreadable files with their reason; the table has all


@dataclass(frozen=True)
class PendingClip:
    """One clip to audit, not yet read (a folder of long clips would not fit in memory at once)."""
    name: str
    load: Callable[[], Clip]          # raises ClipError for a clip that cannot be read
    known_ef: float | None = None     # FileList.csv's EF, kept for a row whose video cannot be read


def clips_in(paths: Path | list[Path], rescale: bool = False) -> list[PendingClip]:
    """Every clip of an EchoNet folder, a plain folder, or a list of files, in order. An EchoNet folder's clips are
    those FileList.csv lists, then the clip files in its Videos/ it does not list (uploaded beside it, say), by
    their file names and without a true EF: an audit that left them out named none of them. rescale: files of
    16-bit or float pixels are stretched to 8 bits (echo.readers.read_clip's rescale), not refused."""
    read = functools.partial(read_clip, rescale=rescale)
    if isinstance(paths, Path) and (paths / FILELIST).is_file():
        data = EchoNetDataset(paths)
        if not data.names:
            raise ClipError(f"'{paths / FILELIST}' lists no clips.")
        listed = set(data.names)                 # a listed name's video is Videos/NAME.avi (the suffix in any case)
        videos = paths / VIDEOS
        unlisted = sorted(p for p in videos.iterdir() if _clip_file(p)
                          and not (p.suffix.lower() == ".avi" and p.stem in listed)) if videos.is_dir() else []
        return [PendingClip(name, functools.partial(data.__getitem__, i), data.ef(i))
                for i, name in enumerate(data.names)] + [PendingClip(p.name, functools.partial(read, p))
                                                         for p in unlisted]
    if isinstance(paths, Path):
        if paths.is_file():
            raise ClipError(f"'{paths}' is a file, not a folder: the audit reads a folder of clips "
                            "(`python app.py analyze` reads one clip).")
        if not paths.is_dir():
            raise ClipError(f"No folder found at '{paths}'.")
        files = sorted(p for p in paths.iterdir() if _clip_file(p))
        if not files:
            raise ClipError(f"'{paths}' holds no clip files ({', '.join(sorted(CLIP_SUFFIXES))}, or a file of "
                            f"another name a reader takes, as a scanner's DICOM export) and no {FILELIST}.")
    else:
        files = list(paths)
    return [PendingClip(path.name, functools.partial(read, path)) for path in files]


def _clip_file(path: Path) -> bool:
    """A file of a folder the audit reads: named as a clip (CLIP_SUFFIXES), or named otherwise with content a reader
    takes (a scanner's DICOM export 'IM0001'); the content is sniffed only for the second."""
    return path.suffix.lower() in CLIP_SUFFIXES or reads_as_clip(path)


def audit_rows(sources: list[PendingClip], pair: dict[str, LoadedModel], degradations: bool = True,
               progress: Callable[[float, str], None] | None = None, deadline: float | None = None,
               skipped: dict[str, dict[str, dict]] | None = None, rerun: Rerun = Rerun("audit")) -> list[dict]:
    """One dict per clip: file, true EF, per model and probe (the attentive one; `_beat`: the beat view's, where
    the model ships one) the EF, its error, its sensitivity (mean |EF change| over the six benchmark
    conditions) and its crop move (how far it moves with the input shifted up or down: crop_check); per model
    whether it is impossible (outside 0-100%); per model the rollout focus ratio on cardiac structures (clips with anatomy
    labels or LV tracings) and the OOD flag; population and degradation where the file says (a phantom clip
    EchoLens wrote); `error` holds why a clip could not be read. Clips are read one at a time; none is started
    after `deadline` (time.monotonic()), so an audit with a time limit ends with the rows it finished. A model too
    slow on the CPU for the degradations or the rollout is left out of them (its sensitivity or focus blank) with
    skipped[role][view] = {'why': the last refusal in the words of `rerun` (explain.analysis.skipped_views),
    'clips': how many clips it was left out of} (the estimate can change from clip to clip as the model's passes
    are timed); an audit of a ViT-L had stopped at its first clip."""
    rows, skipped = [], {} if skipped is None else skipped

    def fitting(view: str, run: Callable[[dict], object]):
        """run(models) on the models that fit, counting this clip against each model left out."""
        this_clip = {role: {} for role in pair}
        out = on_models_that_fit(view, run, pair, this_clip, rerun)
        for role, views in this_clip.items():
            for name, why in views.items():
                before = skipped.setdefault(role, {}).get(name, {}).get("clips", 0)
                skipped[role][name] = {"why": why, "clips": before + 1}
        return out

    for k, source in enumerate(sources):
        if deadline is not None and time.monotonic() > deadline:
            break
        if progress:
            progress(k / max(len(sources), 1), f"clip {k + 1} of {len(sources)}: {source.name}")
        known = source.known_ef
        row = {"file": source.name, "true_ef": None if known is None else round(float(known), 2), "error": ""}
        try:       # a refusal at any step (too short, no image, ...) is this clip's row, and the audit goes on
            clip = source.load()
            preds = predict(pair, clip, crop_check=True)
            views = fitting("degradation", lambda models: condition_ef_views(
                models, clip, tuple(BENCHMARK_CONDITIONS), beat=next(iter(preds.values())).view.beat)) if degradations else None
            maps = fitting("rollout", lambda models: attention(models, clip, "rollout")) or {}   # analyze's read-out
        except ClipError as e:
            clip, row["error"] = None, str(e)
        if clip is not None:
            row["true_ef"] = None if clip.truth is None or clip.truth.ef is None else round(float(clip.truth.ef), 2)
            for role, p in preds.items():
                crop = p.crop if p.crop and not p.crop.get("skipped") else None
                for suffix, key, ef, blank in (("", "ef", p.ef, p.blank[0]), ("_beat", "ef_beat", p.ef_beat, p.blank[1])):
                    if suffix and ef is None:
                        continue                      # no beat-view probe: no beat columns
                    row[f"{role}_ef{suffix}"] = None if ef is None else round(ef, 2)
                    row[f"{role}_abs_error{suffix}"] = (None if ef is None or row["true_ef"] is None
                                                        else round(abs(ef - row["true_ef"]), 2))
                    ran = views is not None and role in views["clean"]          # not skipped for this model
                    sens = mean_abs_change({c: {role: v[role][key]} for c, v in views.items()}, role) if ran else None
                    row[f"{role}_sensitivity{suffix}"] = None if sens is None else round(sens, 2)
                    row[f"{role}_crop_move{suffix}"] = (None if crop is None or ef is None
                                                        else round(moved(ef, crop.get(key)), 2))
                    row[f"{role}_impossible{suffix}"] = is_impossible(ef)
                    row[f"{role}_near_blank{suffix}"] = near_blank(ef, blank)         # None: not checked
                best = clip_estimate(p, pair[role], clip.meta)
                if best is not None:                # the Predictions tab's first line, or why it gave none
                    row[f"{role}_best_ef"] = None if best.ef is None else round(best.ef, 2)
                    row[f"{role}_best_probe"] = best.view
                    row[f"{role}_best_held_back"] = best.reason
                focus = maps[role].focus if role in maps else None
                row[f"{role}_focus"] = None if focus is None else round(focus["ratio"], 3)
                row[f"{role}_ood"] = None if p.ood is None else p.ood["out_of_distribution"]
            # what a phantom file says of itself (echo.provenance): a child's or a degraded clip is no clean adult one
            row["population"], row["degradation"] = clip.meta.get("population"), clip.meta.get("degradation")
        rows.append(row)
    return rows


def audit_note(pair: dict[str, LoadedModel]) -> str:
    """What to keep in mind reading the audit: the phantom warning for phantom-trained models, what *_ood means
    where a model has a reference."""
    return " ".join(n for n, needed in ((PHANTOM_NOTE, any(m.phantom_trained for m in pair.values())),
                                        (OOD_NOTE, any(m.ood is not None for m in pair.values()))) if needed)


def _clean_adult(row: dict) -> bool:
    """Not known to be a child's clip or a degraded one (what the shipped probes' records describe)."""
    return row.get("population") != "pediatric" and not row.get("degradation")


def summary(rows: list[dict], pair: dict[str, LoadedModel], found: int | None = None,
            time_limit_s: float | None = None, skipped: dict[str, dict[str, str]] | None = None) -> dict:
    """Per model: clips with a prediction (through either probe); EF MAE against the truth where known, over `ef_mae_n` clips, an
    impossible EF (outside 0-100%) left out and counted in `impossible`, its 95% bootstrap interval over the clips
    in `ef_mae_ci95` (None under MIN_BOOTSTRAP clips), one near the probe's all-black reading kept
    and counted in `near_blank` (`_beat`: the same through the beat view's probe, None without one); where some clips are known to be pediatric or degraded the same over the others
    alone (ef_mae_clean_adult, ef_mae_beat_clean_adult); mean sensitivity and mean crop move of each probe; mean
    focus ratio; OOD count (None: the model has no reference) over the `ood_scored` clips the check scored (none
    where the model ran at another frame count than its reference's); on how many clips the best estimate was given
    (`best_given`) and its EF MAE where the true EF is known (`best_ef_mae`). 'mixed': how many clips are known to be
    pediatric or degraded; 'found': how many clips the source held (more than 'clips' where the audit read the
    first MAX_CLIPS, or stopped at its time limit); 'time_limit_s': the limit that stopped it, else None;
    'skipped_views': {role: {view: {'why', 'clips'}}} for the views a model was too slow for on the CPU, on how
    many clips (audit_rows)."""
    found = max(found or 0, len(rows))
    stopped = time_limit_s is not None and len(rows) < min(found, MAX_CLIPS)
    out = {"clips": len(rows), "found": found, "time_limit_s": time_limit_s if stopped else None,
           "unreadable": sum(1 for r in rows if r["error"]), "note": audit_note(pair),
           "mixed": sum(1 for r in rows if not r["error"] and not _clean_adult(r)),
           "skipped_views": {role: dict((skipped or {}).get(role, {})) for role in pair}}
    mean = lambda values, digits=2: round(float(np.mean(values)), digits) if values else None
    def interval(values: list[float]) -> list[float] | None:          # how far a few clips' MAE may be from the MAE
        if len(values) < MIN_BOOTSTRAP:               # a percentile bootstrap of fewer covers far less than 95%
            return None
        rng = np.random.default_rng(0)                                   # the same files give the same interval
        means = np.asarray(values)[rng.integers(len(values), size=(BOOTSTRAP, len(values)))].mean(1)
        return [round(float(q), 2) for q in np.percentile(means, (2.5, 97.5))]
    for role, m in pair.items():
        def values(column: str, keep=lambda r: True) -> list[float]:
            return [r[column] for r in rows if r.get(column) is not None and keep(r)]
        def errors(s: str, keep=lambda r: True) -> list[float]:      # an impossible EF has no error worth averaging
            return values(f"{role}_abs_error{s}", lambda r: keep(r) and not is_impossible(r.get(f"{role}_ef{s}")))
        clean = {f"ef_mae{s}_clean_adult": mean(errors(s, _clean_adult)) for s in ("", "_beat")} if out["mixed"] else {}
        out[role] = {"predicted": sum(1 for r in rows if r.get(f"{role}_ef") is not None or
                                      r.get(f"{role}_ef_beat") is not None),        # a beat-view probe alone predicts
                     **{f"{k}{s}": v for s in ("", "_beat") for k, v in (
                         ("ef_mae", mean(errors(s))), ("ef_mae_n", len(errors(s))), ("ef_mae_ci95", interval(errors(s))),
                         ("impossible", sum(1 for r in rows if r.get(f"{role}_impossible{s}"))),
                         ("near_blank", sum(1 for r in rows if r.get(f"{role}_near_blank{s}"))))},
                     **clean,
                     "mean_sensitivity": mean(values(f"{role}_sensitivity")),
                     "mean_sensitivity_beat": mean(values(f"{role}_sensitivity_beat")),
                     "best_given": sum(1 for r in rows if r.get(f"{role}_best_ef") is not None),
                     "best_ef_mae": mean([abs(r[f"{role}_best_ef"] - r["true_ef"]) for r in rows
                                          if r.get(f"{role}_best_ef") is not None and r["true_ef"] is not None]),
                     "mean_focus_ratio": mean(values(f"{role}_focus"), 3),
                     "mean_crop_move": mean(values(f"{role}_crop_move")),
                     "mean_crop_move_beat": mean(values(f"{role}_crop_move_beat")),
                     # scored only at the frame count its reference was fitted at (predict): unscored rows are no verdict
                     "ood_scored": sum(1 for r in rows if r.get(f"{role}_ood") is not None),
                     "out_of_distribution": None if m.ood is None else sum(1 for r in rows if r.get(f"{role}_ood"))}
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _ci(interval: list[float] | None) -> str:
    return f" [{interval[0]:.2f}-{interval[1]:.2f}]" if interval else ""


def _with_beat(s: dict, key: str, beat_key: str | None = None) -> str:
    """'x.xx (beat view y.yy)' from s[key] and s[beat_key] (key + '_beat' unless given): 'n/a' where there is
    no number, the beat view only where the model ships one."""
    beat_key = beat_key or key + "_beat"
    words = "n/a" if s.get(key) is None else f"{s[key]:.2f}"
    return words + (f" (beat view {s[beat_key]:.2f})" if s.get(beat_key) is not None else "")


def not_reached(summ: dict) -> int:
    """Clips found that the audit never tried (it stopped at its time limit, or read the first MAX_CLIPS)."""
    return (summ.get("found") or summ["clips"]) - summ["clips"]


def reasons_named(unread: list[tuple[str, str]], more_words: str = "") -> str:
    """'a: why; b: why; and 3 more<more_words>': the first NAMED_UNREADABLE (name, reason) pairs, the rest counted."""
    named = "; ".join(f"{name}: {reason.rstrip('.')}" for name, reason in unread[:NAMED_UNREADABLE])
    more = len(unread) - NAMED_UNREADABLE
    return named + (f"; and {more} more{more_words}" if more > 0 else "")


def summary_words(summ: dict, rows: list[dict], pair: dict[str, LoadedModel]) -> tuple[str, list[str]]:
    """The summary in words, as the page, audit.html and the command line show it: a headline (how many
    clips, which could not be read and why) and one line per model. The note (summ['note']) is apart."""
    bad = [r for r in rows if r["error"]]
    headline = _plural(summ["clips"], "clip")
    if summ.get("time_limit_s"):
        headline += (f" (the first of {summ['found']} found: the audit stopped at its time limit of "
                     f"{summ['time_limit_s'] / 60:g} min)")
    elif summ.get("found", 0) > summ["clips"]:
        headline += f" (the first of {summ['found']} found: an audit reads at most {MAX_CLIPS})"
    headline += f", {summ['unreadable']} unreadable"
    if bad:
        named = reasons_named([(r["file"], r["error"]) for r in bad], ", each with its reason in the error column")
        headline += f" ({named})"
    lines, read = [], summ["clips"] - summ["unreadable"]
    for role in pair:
        s = summ[role]
        left_out = "".join(f" ⚠️ Left out on {_plural(v['clips'], 'clip')} of {read}: {v['why'].rstrip('.')}."
                           for v in summ.get("skipped_views", {}).get(role, {}).values())
        if not s["predicted"]:                  # '0 clips out of distribution' read like a finding about no clip
            m = pair[role]
            unreached = not_reached(summ)
            why = ((f"the {_plural(summ['clips'], 'clip')} audited could not be read; {unreached} not reached"
                    if unreached else "none could be read") if not read else
                   "it has no EF probe" if m.probe is None and
                   m.beat_probe is None else "its probe gave none")
            lines.append(f"{m.name}: no clip predicted ({why}).{left_out}")
            continue
        mae = (("n/a" if s["ef_mae"] is None else f"{s['ef_mae']:.2f}") + _ci(s.get("ef_mae_ci95"))
               + f" over {_plural(s['ef_mae_n'], 'clip')}")
        if s.get("ef_mae_beat") is not None:
            mae += f" (beat view {s['ef_mae_beat']:.2f}{_ci(s.get('ef_mae_ci95_beat'))} over {s['ef_mae_n_beat']})"
        mae += " with a true EF" + (" (95% intervals by bootstrap over the clips: their sampling only, not the probe's "
                                    "seed)" if s.get("ef_mae_ci95") or s.get("ef_mae_ci95_beat") else "")
        if summ.get("mixed"):                      # some clips are a child's or degraded: the clean adult ones apart
            n = summ["mixed"]
            mae += (f", {_with_beat(s, 'ef_mae_clean_adult', 'ef_mae_beat_clean_adult')} over those not known to be "
                    f"pediatric or degraded ({n} {'clip is' if n == 1 else 'clips are'}; the benchmark's pediatric and "
                    "degraded columns describe those)")
        for suffix, probe in (("", "the attentive probe"), ("_beat", "the beat view's probe")):
            if s.get(f"impossible{suffix}"):
                mae += (f"; ⚠️ {_plural(s[f'impossible{suffix}'], 'clip')} read an impossible EF through {probe} (outside "
                        "0-100%: it reads far beyond what it learned from, or its EF scale is wrong), left out of its "
                        f"MAE ({role}_impossible{suffix})")
            if s.get(f"near_blank{suffix}"):
                mae += (f"; ⚠️ {_plural(s[f'near_blank{suffix}'], 'clip')} read an EF through {probe} within "
                        f"{BLANK_POINTS:g} points of what it reads from an all-black clip, so those EFs alone cannot show "
                        f"that it read the heart ({role}_near_blank{suffix}; kept in its MAE)")
        if any(f"{role}_best_held_back" in r for r in rows):           # the model has both probes
            given = s["best_given"]
            mae += (f"; a best estimate (the Predictions tab's first line) on {given} of {_plural(s['predicted'], 'clip')}"
                    + (f", off by {s['best_ef_mae']:.2f} on average where the true EF is known" if s.get("best_ef_mae")
                       is not None else "") + (f" ({role}_best_held_back says why for the others)"
                                               if given < s["predicted"] else ""))
        focus = "n/a" if s["mean_focus_ratio"] is None else f"{s['mean_focus_ratio']:.2f}"
        readout = "its probe" if default_readout(pair[role].probe) == "probe" else "mean"
        ood = ("out-of-distribution check n/a (no reference of phantom embeddings for this model)"
               if s["out_of_distribution"] is None else
               "out-of-distribution check not run (the model ran at another frame count than its reference was fitted "
               "at)" if not s.get("ood_scored") else
               f"{_plural(s['out_of_distribution'], 'clip')} out of distribution"
               + (f"; the check {words}" if (words := flag_rate_words(pair[role].ood.flag_rates)) else ""))
        lines.append(f"{pair[role].name}: {_plural(s['predicted'], 'clip')} predicted; EF mean absolute error {mae}; under the six "
                     f"benchmark degradations its EF moves {_with_beat(s, 'mean_sensitivity')} points on average; "
                     f"with the input shifted {100 * SHIFT_SHARE:.0f}% of its side up or down, up to "
                     f"{_with_beat(s, 'mean_crop_move')} points on average; rollout focus ratio {focus} ({readout} "
                     f"read-out, clips with anatomy labels or LV tracings); {ood}.{left_out}")
    return headline + ".", lines


def _kind(row: dict) -> str:
    """' (pediatric)', ' (degraded: ...)' or '' for a point's hover text: such clips sit apart from the probes' record."""
    kinds = (["pediatric"] if row.get("population") == "pediatric" else []) + (
        [f"degraded: {label_words(row['degradation'])}"] if row.get("degradation") else [])
    return f" ({', '.join(kinds)})" if kinds else ""


def scatter_figure(rows: list[dict], names: dict[str, str]) -> go.Figure:
    """Predicted against true EF, one colour per model (filled: the attentive probe; rings: the beat view's,
    where the model ships one; a little transparent, so points on one another show), the identity line; each
    point's hover text names its file and whether it is a child's or a degraded clip."""
    fig = go.Figure()
    for role, name in names.items():
        for suffix, label, symbol in (("", name, "circle"), ("_beat", f"{name} (beat view)", "circle-open")):
            pts = [(r["true_ef"], r[f"{role}_ef{suffix}"], r["file"] + _kind(r)) for r in rows
                   if r.get("true_ef") is not None and r.get(f"{role}_ef{suffix}") is not None]
            if pts:
                x, y, t = zip(*pts)
                fig.add_trace(go.Scatter(x=x, y=y, text=t, mode="markers", name=label, opacity=0.75,
                                         marker=dict(color=FAMILY_COLOURS.get(role), symbol=symbol, size=8,
                                                     line=dict(width=2, color=FAMILY_COLOURS.get(role)))))
    fig.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="identity", line=dict(dash="dash", color="grey")))
    fig.update_layout(template=TEMPLATE, title="Predicted vs true EF", xaxis_title="true EF (%)", yaxis_title="predicted EF (%)",
                      height=380, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def table_columns(rows: list[dict]) -> list[str]:
    """Every row's keys in first-seen order, `error` last: an unreadable clip first in the list must not
    push the EF columns behind its long message."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return [c for c in columns if c != "error"] + ["error"] * ("error" in columns)


def not_audited(sources: list[PendingClip], done: int, summ: dict) -> list[dict]:
    """audit.csv's rows for the clips found but not audited (`done` were): past the time limit that stopped the
    audit, or past MAX_CLIPS. The CSV alone, opened apart from audit.json's summary and audit.html's headline, had
    no sign that it held only the first clips. Each row: file, true EF where the folder gives it, `error` why."""
    rows = []
    for k, source in enumerate(sources[done:], start=done):
        why = (f"not audited: the audit stopped at its time limit of {summ['time_limit_s'] / 60:g} min before this clip"
               if summ.get("time_limit_s") and k < MAX_CLIPS else f"not audited: an audit reads at most {MAX_CLIPS} clips")
        known = source.known_ef
        rows.append({"file": source.name, "true_ef": None if known is None else round(float(known), 2), "error": why})
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    columns = table_columns(rows)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, columns)
        w.writeheader()
        w.writerows(rows)
    return path


def write_html(rows: list[dict], summ: dict, words: tuple[str, list[str]], figures: list[go.Figure], path: Path,
               title: str, record: dict | None = None) -> Path:
    """One self-contained HTML file (plotly's script inlined once), readable offline; words: summary_words;
    record: run_record's, said in one line at the end."""
    headline, model_lines = words
    items = "".join(f"<li>{html.escape(line)}</li>" for line in model_lines)
    columns = table_columns(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>"
                                    for c in columns) + "</tr>" for r in rows)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures))
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}"
           "td:last-child{min-width:24em}</style></head><body>"
           f"<h1>{html.escape(title)}</h1><p>{html.escape(headline)}</p><p><b>{html.escape(summ['note'])}</b></p>"
           f"<ul>{items}</ul>{plots}<p>{html.escape(COLUMNS)}</p>"
           f"<table><tr>{head}</tr>{body}</table>"
           + (f"<p><small>{html.escape(record_words(record))}</small></p>" if record else "") + "</body></html>")
    path.write_text(doc)
    return path


class Audit(NamedTuple):
    """What an audit found: the summary (audit.json's), one row per clip, the summary in words (summary_words)."""
    summary: dict
    rows: list[dict]
    words: tuple[str, list[str]]


def audit(paths: Path | list[Path], pair: dict[str, LoadedModel], out: Path,
          progress: Callable[[float, str], None] | None = None, time_limit_s: float | None = None,
          command: str | None = None, rerun: Rerun = Rerun("audit"),
          sources: list[PendingClip] | None = None) -> Audit:
    """Run the audit, write audit.csv, audit.html and audit.json (summary, what the columns mean, the run's record:
    explain.analysis.run_record, and rows) into `out`. With a time limit no clip is started after it has passed:
    the files hold the clips finished, and the summary says so. command: what started it (default: the command line);
    rerun: how a view left out for a slow model would be run (the command line's unless the page says its own);
    sources: the clips of `paths` as clips_in found them already (the command line finds them before the models
    load, with its --rescale), else found here."""
    import json
    sources = clips_in(paths) if sources is None else sources   # a folder that is not one fails before `out` is made
    check_output_folder(out)             # a file in the way is said first; the folder is made once there are rows,
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s       # so a failed audit leaves none
    skipped = {role: {} for role in pair}                        # {role: {view: why}}: too slow for the CPU
    rows = audit_rows(sources[:MAX_CLIPS], pair, progress=progress, deadline=deadline, skipped=skipped, rerun=rerun)
    out = output_folder(out, WRITTEN)                            # an earlier audit's files go with its rows
    summ = summary(rows, pair, found=len(sources), time_limit_s=time_limit_s, skipped=skipped)
    words = summary_words(summ, rows, pair)
    names = {role: m.name for role, m in pair.items()}
    write_csv(rows + not_audited(sources, len(rows), summ), out / "audit.csv")    # the CSV names what it lacks
    record = run_record(pair, command)
    write_html(rows, summ, words, [scatter_figure(rows, names)], out / "audit.html", "EchoLens audit", record)
    (out / "audit.json").write_text(json.dumps({"summary": summ, "columns": COLUMNS, "run": record, "rows": rows},
                                               indent=1))
    return Audit(summ, rows, words)
