"""The full analysis of one clip for a JEPA | MAE pair, as `python app.py analyze CLIP --out DIR` writes it:

    report.json             {"clip": {frames, fps, height, width, source, population, degradation, fps_source,
                                      phase: {source, beat_found, label, ed_frames, es_frames, frames_per_beat}},
                             "ground_truth": {"ef"} | null,
                             "models": {role: {name, family, ef, ef_beat, focus: {method: ratio | null},
                                               degradation: {condition: {"ef", "ef_beat"}},
                                               trajectory: {method, coords, loop_closure, phase_error_deg, ...},
                                               speckle_ratio, skipped: {method: why no map},
                                               unreliable: {method: why not to read its map},
                                               skipped_views: {view: why it did not run}, ...}},
                             "run": {models: {role: {name, family, loaded_from, frames, files_digest,
                                                     conversion}}, commit, command, host, threads, device,
                                     time_utc, colours: the overlays' colour scale}}
                                               role: 'jepa' | 'mae'
    <role>.rollout.npy      the clip-level rollout map, (T, H, W) float32 in [0, 1] over the frames
                            the model saw (T, H, W of the preprocessed clip: one beat, sector crop)
    <role>.<method>.mp4     overlays (H.264) and <role>.<method>.png frame strips
    <role>.trajectory.json  the trajectory figure, sensitivity.json the degradation sweep (plotly JSON:
                            plotly.io.read_json)
    report.html             everything in one page (plotly inline, strips embedded: works offline)

An earlier analysis's files in the same folder are replaced once every file of this one is written
(echo.outputs.staged_output: a run stopped before leaves them whole), so the folder describes one clip.

A view whose forward passes would take a model over the CPU budget (explain.analysis.budget) is not run for that
model, and the rest of the report is still written: skipped_views names each such view ('degradation',
'severity_sweep', 'trajectory', 'speckle_ratio') with the estimate and what would run it (--frames N, or a GPU;
explain.analysis.skipped_views), as `skipped` does for a map; its numbers are null (each degradation's EFs, the
trajectory's loop numbers, with its coords empty and its own 'skipped' as the crop check's), its figure not written.

run is what produced the file (explain.analysis.run_record); its conversion, for a checkpoint converted on load or
an exported folder, says what the conversion assumed (frames, size, heads: what the checkpoint does not store), its
other notes and the keys it left out (null for a model with its own card, as the shipped ones): report.html says it
beside the run's record, as the app's models line does, so a report made at an assumed size is not read as one made
at a size the checkpoint states.

degradation holds 'clean' and each named condition, all read from the one copy the conditions degrade (the clip
cropped to its sector, at most twice the models' side, grey, up to the last frame the models read:
explain.analysis.degradation.working_copy), so its 'clean' may differ a little from the model's ef (read from the clip
as loaded) and a change between its entries is the degradation's alone. For a clip that says it was degraded before
it was loaded (clip.degradation, a phantom file's own record), 'clean' is that clip as loaded, no degradation added:
report.html and the sweep's axis call it so. clip.fps_source is 'default' where the file gave no frame rate and
fps is a guess; clip.phase is the phase the trajectories are coloured by (source 'truth' or 'estimated', and
beat_found false where the clip showed no heartbeat: no ED or ES frames then).
ef_beat is the EF through the beat view's probe (null where the model ships none). best_estimate is the
prediction card's (explain.analysis.best_estimate.BestEstimate: its ef, or null with the reason it is held back,
and its words; null for a model with fewer than two probes).
focus is the anatomy focus ratio (share of the map on cardiac structures over the share by chance),
null when the clip has no anatomy labels or LV tracings, and focus_note then says so. speckle_ratio is a property of the model (variance of its
embedding across fresh speckle of one phantom heart over that across hearts), not of the clip.
"""
from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path

import numpy as np

from echo.clip import Clip
from echo.degrade import CONDITIONS, label_words
from echo.outputs import check_output_folder, staged_output
from echo.readers.common import ASSUMED_FPS_WORDS
from explain.analysis.attention import attention
from explain.analysis.budget import OverBudget, check_budget
from explain.analysis.cycle import cycle, skipped_numbers
from explain.analysis.best_estimate import clip_estimate, disagreement_words
from explain.analysis.crop_check import crop_words
from explain.analysis.defaults import ROLES
from explain.analysis.degradation import condition_ef_views, sensitivity_figure, severity_sweep
from explain.analysis.latent_pixel import SPECKLE_PASSES, speckle_ratios
from explain.analysis.ood import declared_shift, ood_words
from explain.analysis.pair import LoadedModel
from explain.analysis.predict import near_blank_words, predict
from explain.analysis.run_record import conversion_words, record_words, run_record
from explain.analysis.skipped_views import on_models_that_fit, skip_words
from explain.overlay import COLOURS, check_colours, write_overlay_mp4, write_overlay_strip

METHODS = ("rollout", "paper", "integrated_gradients", "pretext")
QUICK_METHODS = ("rollout",)
SWEEP = "shadow"
# every file an analysis writes: an earlier analysis's are removed from a reused --out folder, nothing else is
PER_MODEL = ("rollout.npy", "trajectory.json", *(f"{m}.{ext}" for m in METHODS for ext in ("mp4", "png")))
WRITTEN = ("report.json", "report.html", "sensitivity.json", *(f"{r}.{name}" for r in ROLES for name in PER_MODEL))


NO_FOCUS = "no focus ratio: the clip has no anatomy labels or LV tracings on the frames the model sees"


def _round(v, nd=4):
    return None if v is None else round(float(v), nd)


def analyze(clip: Clip, pair: dict[str, LoadedModel], out: Path, quick: bool = False,
            methods: tuple[str, ...] | None = None, colours: str = COLOURS) -> dict:
    """Run every view on the clip, write the files listed above into `out`, return report.json's dict.
    colours: the attention overlays' colour scale (explain.overlay.COLOUR_SCALES)."""
    check_colours(colours)                                 # refused before anything runs or `out` changes
    methods = methods or (QUICK_METHODS if quick else METHODS)
    timings: dict[str, float] = {}

    def timed(stage, fn, *a, **k):
        t = time.perf_counter()
        r = fn(*a, **k)
        timings[stage] = round(time.perf_counter() - t, 3)
        return r

    out = check_output_folder(out)                         # a file in the way is named before any work
    preds = timed("predict", predict, pair, clip, crop_check=True)        # a clip no model can read is refused before `out` changes
    not_run = {role: {} for role in pair}                  # {role: {view: why}}: over the CPU budget for that model
    degraded = timed("degradation", on_models_that_fit, "degradation",      # {condition: {role: EFs}}, the roles run
                     lambda models: condition_ef_views(models, clip, tuple(CONDITIONS),
                                                        beat=next(iter(preds.values())).view.beat),
                     pair, not_run) or {}
    sweep = timed("sweep", on_models_that_fit, "severity_sweep",
                  lambda models: severity_sweep(models, clip, SWEEP), pair, not_run)
    maps, skipped = {}, {role: {} for role in pair}          # {method: {role: map}}, {role: {method: why not}}
    for meth in methods:
        maps[meth] = timed(f"attention_{meth}", _maps_by_model, pair, clip, meth, skipped)
    trajectories, estimate = timed("trajectory", on_models_that_fit, "trajectory",
                                   lambda models: cycle(models, clip, "pca", 3), pair, not_run) or ({}, None)
    speckle = None if quick else timed("speckle", on_models_that_fit, "speckle_ratio", _speckle, pair, not_run)

    truth = None if clip.truth is None or clip.truth.ef is None else {"ef": float(clip.truth.ef)}    # as the EFs: as read
    report = {"clip": {"frames": clip.n_frames, "fps": round(clip.fps, 3), "height": clip.height,
                       "width": clip.width, "source": clip.source,            # what a phantom file says of itself:
                       "population": clip.meta.get("population"), "degradation": clip.meta.get("degradation"),
                       "fps_source": clip.meta.get("fps_source"),     # 'default': the file gave none, this is a guess
                       "phase": None if estimate is None else estimate.to_dict()},
              "ground_truth": truth, "models": {}}
    figures = {}
    # every view is computed; the files are written beside an earlier report's, which stay whole until every file
    # of this one is (a run stopped before, or while writing: Ctrl-C, a full disk, leaves them as they were)
    with staged_output(out, WRITTEN if (Path(out) / "report.json").is_file() else ()) as out:
        for role, m in pair.items():
            p = preds[role]
            entry = {"name": m.name, "family": m.family,
                     **{k: v for k, v in p.to_dict().items() if k not in ("name", "family")}}
            best = clip_estimate(p, m, clip.meta)
            entry["best_estimate"] = None if best is None else best.to_dict()        # the page's rule, as it decided
            entry["focus"] = {meth: None if role not in r or r[role].focus is None else _round(r[role].focus["ratio"])
                              for meth, r in maps.items()}
            entry["focus_detail"] = {meth: (r[role].focus if role in r else None) for meth, r in maps.items()}
            if not skipped[role] and not any(v is not None for v in entry["focus"].values()):   # why, in the file
                entry["focus_note"] = NO_FOCUS               # (a method that could not run says why in `skipped`)
            entry["unreliable"] = {meth: r[role].unreliable for meth, r in maps.items()     # gradient maps not to read
                                   if role in r and r[role].unreliable}
            entry["skipped"] = skipped[role]                                    # {method: why this model has no map}
            entry["skipped_views"] = not_run[role]                              # {view: why it did not run for it}
            entry["degradation"] = {cond: {k: ef                 # as read, so one formatting shows the page's EF
                                           for k, ef in degraded.get(cond, {}).get(role, NO_EF).items()}
                                    for cond in ("clean", *CONDITIONS)}     # every condition: null where not run
            if role in trajectories:
                entry["trajectory"] = trajectories[role].numbers()
                figures[f"{role}.trajectory"] = trajectories[role].figure
            else:                                      # as the crop check when skipped: its keys, null, and why not
                entry["trajectory"] = {**skipped_numbers(clip.n_frames), "skipped": not_run[role]["trajectory"]}
            entry["trajectory"]["phase_source"] = None if estimate is None else estimate.source
            entry["speckle_ratio"] = (None if speckle is None or role not in speckle
                                      else _round(speckle[role]["ratio"]))
            rollout = maps.get("rollout", {})
            if role in rollout:
                np.save(out / f"{role}.rollout.npy", rollout[role].heat.astype(np.float32))      # (T, H, W)
                entry["rollout_file"] = f"{role}.rollout.npy"
            for meth, r in maps.items():
                if role not in r:
                    continue
                v = r[role].view
                write_overlay_mp4(out / f"{role}.{meth}.mp4", v.frames, r[role].heat, v.playback_fps,
                                  colours=colours)
                write_overlay_strip(out / f"{role}.{meth}.png", v.frames, r[role].heat, colours=colours)
            report["models"][role] = entry
        unswept = [m.name for r, m in pair.items() if "severity_sweep" in not_run[r]]
        sweep = sweep or severity_sweep({}, clip, SWEEP)      # no model fast enough: the axis alone, with the note
        figures["sensitivity"] = sensitivity_figure(sweep, {r: m.name for r, m in pair.items()},
                                                    None if truth is None else truth["ef"],
                                                    note=f"not run (over the CPU time limit; report.json says why): "
                                                         f"{', '.join(unswept)}" if unswept else "",
                                                    bands=clip.meta.get("population") != "pediatric")   # adult ranges
        for name, fig in figures.items():
            fig.write_json(out / f"{name}.json")
        report["timings_s"] = timings
        report["run"] = {**run_record(pair), "colours": colours}
        (out / "report.json").write_text(json.dumps(report, indent=1))
        write_html(report, figures, out, methods)
    return report


NO_EF = {"ef": None, "ef_beat": None}                    # a degradation a model did not run


def _speckle(models: dict[str, LoadedModel]) -> dict:
    """{role: {'within', 'between', 'ratio'}}: the speckle test, refused (OverBudget) for a model too slow for it."""
    for m in models.values():
        check_budget(m, SPECKLE_PASSES, "The speckle test")
    return speckle_ratios(models, False, False)


def _maps_by_model(pair, clip, method, skipped: dict) -> dict:
    """{role: AttentionResult} for each model that can run `method`; a model that cannot (an EF attribution
    without a probe, an input it refuses, over the CPU budget: then with what would run it) is left out with its
    reason in skipped[role][method], and the other model's map is kept."""
    out = {}
    for role, m in pair.items():
        try:
            out.update(attention({role: m}, clip, method))
        except OverBudget as e:
            skipped[role][method] = skip_words(e)
        except ValueError as e:
            skipped[role][method] = str(e)
    return out


def ef_words(m: dict, truth: dict | None) -> str:
    """'EF 61.8% (beat view 40.2%); error +0.4 EF points against the ground truth (beat view -21.2)' for one model,
    the error signed (predicted minus true) as the Predictions tab shows it; a model with the beat view's probe
    alone: 'beat view EF 40.2% (no attentive probe); error -21.2 ...'."""
    ef, beat = m["ef"], m.get("ef_beat")
    if ef is None and beat is None:
        return "no EF probe"
    if ef is None:
        words = f"beat view EF {beat:.1f}% (no attentive probe)"
        return words + (f"; error {beat - truth['ef']:+.1f} EF points against the ground truth" if truth else "")
    words = f"EF {ef:.1f}%" + (f" (beat view {beat:.1f}%)" if beat is not None else "")
    if truth:
        words += f"; error {ef - truth['ef']:+.1f} EF points against the ground truth" + (
            f" (beat view {beat - truth['ef']:+.1f})" if beat is not None else "")
    return words


def near_blank_warnings(m: dict) -> list[str]:
    """One warning per probe of a model (report.json's entry) whose EF lies near what it reads from an all-black clip."""
    return [w for w in (near_blank_words(m["ef"], m.get("ef_blank"), "The attentive probe"),
                        near_blank_words(m.get("ef_beat"), m.get("ef_beat_blank"), "The beat view's probe")) if w]


def _numbers_words(m: dict) -> str:
    """The model's focus ratios, speckle ratio and loop numbers in words; n/a where not measured."""
    na = lambda v, fmt="{:.2f}": "n/a" if v is None else fmt.format(v)                   # noqa: E731
    focus = ", ".join(f"{meth} {na(r)}" for meth, r in m["focus"].items())
    if all(r is None for r in m["focus"].values()):
        focus += f" ({NO_FOCUS.removeprefix('no focus ratio: ')})"
    t = m["trajectory"]
    speckle = "" if m["speckle_ratio"] is not None else \
        " (not run: see above)" if "speckle_ratio" in m.get("skipped_views", {}) else " (not measured in a quick run)"
    return (f"focus ratio on cardiac structures: {focus}; speckle ratio {na(m['speckle_ratio'], '{:.3f}')}"
            f"{speckle}; loop closure "
            f"{na(t['loop_closure'])}; phase error {na(t['phase_error_deg'], '{:.0f}°')}"
            + (f" (chance on this clip {t['phase_chance_deg']:.0f}°)" if t.get("phase_chance_deg") is not None else ""))


def converted_words(role: str, m: dict) -> str:
    """A converted model's run record in words for report.html: what its conversion assumed, each note in full."""
    return (f"⚠️ {role.upper()} {m['name']} was {conversion_words(m['conversion'], full=True)}. Its numbers here hold "
            "as far as what was assumed is right.")


def write_html(report: dict, figures: dict, out: Path, methods) -> Path:
    """report.html: numbers, strips (embedded) and figures (plotly inline once)."""
    info = report["clip"]
    name = Path(info["source"]).name if info["source"] else "clip"      # a page to share names no folder of this host
    parts = [f"<h1>EchoLens analysis: {html.escape(name)}</h1>",
             f"<p>{info['frames']} frames at {info['fps']:g} fps{ASSUMED_FPS_WORDS if info.get('fps_source') == 'default' else ''}"
             f", {info['width']} x {info['height']} pixels (width x height).</p>"]
    if report["ground_truth"]:
        parts.append(f"<p>Ground-truth EF {report['ground_truth']['ef']:.1f}%</p>")
    for role, m in report["models"].items():
        parts.append(f"<h2>{role.upper()}: {html.escape(m['name'])} ({m['family']})</h2>"
                     f"<p><b>{html.escape(ef_words(m, report['ground_truth']))}</b></p>")
        if m.get("best_estimate"):
            parts.append(f"<p>{html.escape(m['best_estimate']['words'])}</p>")
        parts.extend(f"<p><b>⚠️ {html.escape(w)}</b></p>" for w in near_blank_warnings(m))
        disagree = disagreement_words(m["name"], m["ef"], m.get("ef_beat"))
        if disagree:
            parts.append(f"<p><b>⚠️ {html.escape(disagree)}</b></p>")
        if m.get("ood"):
            words = html.escape(ood_words(m["ood"], declared_shift(info.get("population"), info.get("degradation"))))
            parts.append(f"<p><b>{words}</b></p>" if m["ood"]["out_of_distribution"] else f"<p>{words}</p>")
        if m.get("crop_check"):
            parts.append(f"<p>{html.escape(crop_words(m['ef'], m.get('ef_beat'), m['crop_check']))}</p>")
        if m.get("warning"):
            parts.append(f"<p><b>{html.escape(m['warning'])}</b></p>")
        for meth, why in m.get("skipped", {}).items():
            parts.append(f"<p>No {html.escape(meth)} map: {html.escape(why)}</p>")
        for why in m.get("skipped_views", {}).values():
            parts.append(f"<p>{html.escape(why)}</p>")
        for meth, why in m.get("unreliable", {}).items():
            parts.append(f"<p><b>⚠️ {html.escape(meth)} map: {html.escape(why)}</b></p>")
        parts.append(f"<p>{html.escape(_numbers_words(m))}</p>")
        for meth in methods:
            strip = out / f"{role}.{meth}.png"
            if strip.is_file() and meth not in m.get("skipped", {}):    # a strip of a stopped run's clip is not this map
                data = base64.b64encode(strip.read_bytes()).decode()
                parts.append(f"<h3>{meth}</h3><img style='max-width:100%' src='data:image/png;base64,{data}'>")
    for i, (name, fig) in enumerate(figures.items()):
        parts.append(f"<h2>{html.escape(name)}</h2>" + fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    models = report["models"].values()
    cell = lambda d: ("n/a" if d["ef"] is None else f"{d['ef']:.1f}"                     # noqa: E731
                      + (f" ({d['ef_beat']:.1f})" if d.get("ef_beat") is not None else ""))
    loaded = info.get("degradation")              # a clip loaded degraded: its 'clean' row is the clip as loaded
    shown = lambda cond: (f"as loaded (already degraded: {html.escape(label_words(str(loaded)))})"   # noqa: E731
                          if cond == "clean" and loaded else cond)
    rows = "".join(f"<tr><td>{shown(cond)}</td>" + "".join(f"<td>{cell(m['degradation'][cond])}</td>" for m in models)
                   + "</tr>" for cond in next(iter(models))["degradation"])
    head = "".join(f"<th>{html.escape(m['name'])} EF (beat view)</th>" for m in models)
    parts.append(f"<h2>EF under each degradation</h2><table><tr><th>condition</th>{head}</tr>{rows}</table>")
    if report.get("run"):
        parts.extend(f"<p>{html.escape(converted_words(role, m))}</p>"
                     for role, m in report["run"]["models"].items() if m.get("conversion"))
        parts.append(f"<p><small>{html.escape(record_words(report['run'], conversions=False))}</small></p>")
    path = out / "report.html"
    path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>EchoLens analysis</title></head>"
                    "<body style='font-family:sans-serif;margin:2em'>" + "".join(parts) + "</body></html>")
    return path
