"""What degradation does to each model's EF: every named condition at once, or one degradation swept
over severity, with the sensitivity curve as a plotly figure.

Degradations act inside the clean clip's sector crop (echo.preprocess.crop_to_sector), as in the
evaluation (model_zoo.evaluate): same seed, same degraded pixels, and the same crop as the clean clip,
so a degradation that darkens the fan's edges does not also zoom the heart; and every copy shows the
frames the clean clip's beat picks (noise or dropped frames would move an estimated beat).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from echo.clip import Clip
from echo.degrade import CONDITIONS, apply_condition, copy_to_degrade, degrade
from echo.preprocess import Sector, fan_to_crop
from explain.analysis.beat import beat_frames
from explain.analysis.budget import check_budget
from explain.analysis.pair import LoadedModel
from explain.analysis.predict import (BLANK_POINTS, EF_CATEGORY_BANDS, Prediction, blank_efs, predict,
                                     reads_like_blank)
from explain.analysis.window import beat_indices, check_model_side, select_frames
from model_zoo.plot_style import FAMILY_COLOURS, SMALL_FONT_SIZE, TEMPLATE

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def working_copy(clip: Clip, models: dict[str, LoadedModel], sector: Sector | None = None,
                 beat: tuple[float, str] | None = None) -> Clip:
    """The clip cropped to its sector for degrading, sized for the largest input of `models`
    (echo.degrade.copy_to_degrade: cropped and shrunk a frame at a time). sector: its fan, when found already.
    beat: the clean clip's (frames per beat, source) the copies are shown; with it the copy keeps only the frames up
    to the last one a model's view reads (one beat from the first frame: window.beat_indices), so a minute-long
    clip is not degraded whole for the beat each copy is read at. Its fan is still found over the whole clip, and
    the frame numbers of its ED, ES and LV tracings are all kept (a clip traced after that beat is said to be
    traced elsewhere, not untraced). A degradation finds its sector and scale from the frames it is given, so a
    degraded copy's pixels, and its EF, can differ a little from those of the whole clip degraded. A clip under the
    models' smallest side is refused as model_view refuses it (the copy, its fan's crop, is not checked again)."""
    check_model_side(clip)
    if beat is not None:
        sector = fan_to_crop(clip) if sector is None else sector
        last = max(int(beat_indices(clip.n_frames, beat[0], m.input_shape[0]).max()) for m in models.values())
        clip = _first_frames(clip, last + 1)
    return copy_to_degrade(clip, max(m.input_shape[1] for m in models.values()), sector)


def _first_frames(clip: Clip, n: int) -> Clip:
    """The clip's first n frames; its truth's per-frame arrays cut alike, its frame-numbered ED, ES and LV tracings
    kept whole (the numbers are the clip's own either way)."""
    if n >= clip.n_frames:
        return clip
    cut = select_frames(clip, np.arange(n))
    t = clip.truth
    return cut if t is None else dataclasses.replace(cut, truth=dataclasses.replace(
        cut.truth, ed_frames=t.ed_frames, es_frames=t.es_frames, lv_tracings=t.lv_tracings))


def copy_and_beat(clip: Clip, models: dict[str, LoadedModel], beat: tuple[float, str] | None = None
                  ) -> tuple[Clip, tuple[float, str]]:
    """(the copy every degradation of `clip` acts on (working_copy, the frames of that beat), the clean clip's beat
    (beat_frames, unless given)), the clip's fan found once for both: every copy shows the clean clip's frames."""
    sector = fan_to_crop(clip)
    beat = beat_frames(clip, sector) if beat is None else beat
    return working_copy(clip, models, sector, beat), beat


def condition_ef_views(models: dict[str, LoadedModel], clip: Clip, conditions=tuple(CONDITIONS),
                       seed: int = 0, beat: tuple[float, str] | None = None
                       ) -> dict[str, dict[str, dict[str, float | None]]]:
    """{condition: {role: {"ef": EF through the attentive probe, "ef_beat": through the beat view's}}} for
    'clean' and every named condition (echo.degrade.CONDITIONS). 'clean' is read from the copy every condition
    degrades (working_copy), so a change is the degradation's alone. beat: the clean clip's (frames per beat,
    source) when the caller has it (its predictions' views), not estimated again. Only the EFs are kept."""
    for m in models.values():
        check_budget(m, len(conditions) + 1, "EF under every degradation")
    cropped, beat = copy_and_beat(clip, models, beat)
    out = {}
    for cond in ("clean", *conditions):
        preds = predict(models, apply_condition(cropped, cond, seed=seed), beat=beat)
        out[cond] = {role: {"ef": p.ef, "ef_beat": p.ef_beat} for role, p in preds.items()}
    return out


def sweep_severities(name: str) -> tuple[float, ...]:
    """SEVERITIES and the severities of the degradation's named conditions (shadow_low at 1/3, ...), in order:
    the curve passes through every condition the benchmark's table reports, not between them."""
    named = {sev for n, sev in CONDITIONS.values() if n == name}
    return tuple(sorted(set(SEVERITIES) | named))


def severity_sweep(models: dict[str, LoadedModel], clip: Clip, name: str,
                   severities=None, seed: int = 0) -> dict:
    """{'degradation', 'severity': [...], 'ef': {role: [...]}, 'change': {role: [...]}} (change vs severity 0),
    'loaded_degradation': what the clip says it was degraded by before it was loaded (None: clean; severity 0 is
    the clip as loaded, not a clean one),
    and 'ef_beat', 'change_beat' the same through the beat view's probe, for the models that ship one;
    'ef_blank', 'ef_beat_blank': {role: what the probe reads from an all-black clip (None: not measured)}.
    severities: sweep_severities(name) unless given. No models: the severities alone, nothing degraded (the
    headless analysis draws the axis when every model was too slow for the sweep)."""
    severities = sweep_severities(name) if severities is None else severities
    for m in models.values():
        check_budget(m, len(severities), "The severity sweep")
    efs, beat_efs = {role: [] for role in models}, {role: [] for role in models}
    if models:
        cropped, beat = copy_and_beat(clip, models)               # the beat as estimated on the crop
        for s in severities:
            preds = predict(models, degrade(cropped, name, s, seed=seed), beat=beat)      # severity 0: the clean clip
            for role, p in preds.items():
                efs[role].append(p.ef)
                beat_efs[role].append(p.ef_beat)
    beat_efs = {role: v for role, v in beat_efs.items() if models[role].beat_probe is not None}
    change = lambda curves: {r: [None if e is None or v[0] is None else e - v[0] for e in v] for r, v in curves.items()}
    return {"degradation": name, "loaded_degradation": clip.meta.get("degradation"), "severity": list(severities),
            "ef": efs, "change": change(efs),
            "ef_beat": beat_efs, "change_beat": change(beat_efs),
            "ef_blank": {role: blank_efs(m)[0] for role, m in models.items()},
            "ef_beat_blank": {role: blank_efs(m)[1] for role, m in models.items() if role in beat_efs}}


NEAR_BLANK = f"within {BLANK_POINTS:g} EF points of its all-black reading"     # a ringed point's legend entry


def sensitivity_figure(sweep: dict, names: dict[str, str] | None = None, truth: float | None = None,
                       note: str = "", bands: bool = False) -> go.Figure:
    """EF against severity, one line per model (dotted: through the beat view's probe), a dash-dot line at what
    each probe reads from an all-black clip (where the sweep measured it) with the points within BLANK_POINTS of it
    ringed, the true EF dashed when known (under the curves); `note` (e.g. that the models learned from a phantom) under the title. A model without an EF
    probe has no line, and the title says so. bands: shade the adult heart-failure categories (predict.ef_category's
    ranges; not for a child's clip), so a curve crossing into another category shows."""
    fig, missing, curves = go.Figure(), [], set()
    if truth is not None:                 # in the legend: a label on the plot sat on the curves; drawn first, under them
        fig.add_trace(go.Scatter(x=[sweep["severity"][0], sweep["severity"][-1]], y=[truth, truth], mode="lines",
                                 name=f"true EF {truth:.1f}%", line=dict(color="black", dash="dash")))
    for key, suffix, dash in (("ef", "", None), ("ef_beat", " (beat view)", "dot")):
        for role, efs in sweep.get(key, {}).items():
            name = (names or {}).get(role, role)
            if all(e is None for e in efs):
                missing += [name] if key == "ef" else []
                continue
            fig.add_trace(go.Scatter(x=sweep["severity"], y=efs, mode="lines+markers", name=name + suffix,
                                     line=dict(color=FAMILY_COLOURS.get(role), dash=dash)))
            curves.add(name + suffix)
            blank = sweep.get(key + "_blank", {}).get(role)
            if blank is not None:          # a curve that settles here reads no heart, whatever the truth line says
                fig.add_trace(go.Scatter(x=[sweep["severity"][0], sweep["severity"][-1]], y=[blank, blank], mode="lines",
                                         name=f"{name}{suffix}: all-black clip", opacity=0.7,
                                         line=dict(color=FAMILY_COLOURS.get(role), dash="longdashdot", width=2)))
                near = [(x, e) for x, e in zip(sweep["severity"], efs) if reads_like_blank(e, blank)]
                if near:                   # ringed: an EF there cannot show the probe read the heart
                    fig.add_trace(go.Scatter(x=[x for x, _ in near], y=[e for _, e in near], mode="markers",
                                             name=f"{name}{suffix}: {NEAR_BLANK}",
                                             marker=dict(symbol="diamond-open" if suffix else "circle-open", size=15,
                                                         color=FAMILY_COLOURS.get(role), line=dict(width=2))))
    for condition, (name, severity) in CONDITIONS.items():        # where the named conditions sit on this axis
        if name == sweep["degradation"]:
            fig.add_vline(x=severity, line=dict(color="grey", width=1, dash="dot"))
            fig.add_annotation(x=severity, y=1.0, yref="paper", yanchor="bottom", text=condition, showarrow=False,
                               font=dict(size=SMALL_FONT_SIZE, color="#555"))      # above the plot: inside, it crossed the lines
    if bands:
        _category_bands(fig)
    notes = [n for n in (f"no EF probe, so no line: {', '.join(missing)}" if missing else "", note) if n]
    title = f"EF under {sweep['degradation'].replace('_', ' ')}" + "".join(f"<br><sup>{n}</sup>" for n in notes)
    # the legend below the plot, in rows: beside it, a dozen entries scrolled and cut their names off
    zero = "the clip as loaded, already degraded" if sweep.get("loaded_degradation") else "clean"
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=f"severity (0 = {zero})", xaxis_range=[-0.05, 1.05],
                      yaxis_title="predicted EF (%)", height=520, margin=dict(l=50, r=20, t=66 + 14 * len(notes), b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0, font=dict(size=SMALL_FONT_SIZE)))
    if not any(t.name in curves for t in fig.data):
        fig.update_yaxes(range=[0, 100])                           # no model's curve: still an EF axis, truth on it
    return fig


def _category_bands(fig: go.Figure) -> None:
    """Shade the adult EF categories behind the lines, over the EFs plotted only (a band over 0-100% would stretch
    the axis and flatten the curves), each named at its left edge."""
    ys = [y for t in fig.data for y in t.y if y is not None]
    if not ys:
        return
    shown_low, shown_high = min(ys) - 3, max(ys) + 3
    for (name, low, high), colour in zip(EF_CATEGORY_BANDS, ("#d62728", "#ff7f0e", "#2ca02c")):
        y0, y1 = max(low, shown_low), min(high, shown_high)
        if y0 < y1:
            fig.add_hrect(y0=y0, y1=y1, fillcolor=colour, opacity=0.08, line_width=0, layer="below",
                          annotation=dict(text=f"{name} (adult)", font=dict(size=SMALL_FONT_SIZE, color="#555")),
                          annotation_position="bottom left")


@dataclass(frozen=True)
class EFChange:
    """One probe's EF on a clip and on a degraded copy of it, as shown (to 0.1 point)."""
    name: str                   # the model's name
    probe: str                  # "attentive" (the probe) or "beat view"
    clean: float
    degraded: float
    blank: float | None         # what the probe reads from an all-black clip (None: not measured)

    @property
    def change(self) -> float:
        return self.degraded - self.clean

    @property
    def reads_blank(self) -> bool:
        """Near the all-black reading: it may be reading no heart, not this one."""
        return reads_like_blank(self.degraded, self.blank)


def ef_changes(clean: dict[str, Prediction], degraded: dict[str, Prediction]) -> dict[str, list[EFChange]]:
    """{role: [EFChange per probe the model ships]} (empty: no EF probe) from predict's results on a clip and a
    degraded copy. EFs are rounded as shown first, so a change is the difference of the EFs a user reads."""
    out = {}
    for role, c in clean.items():
        d = degraded[role]
        out[role] = [EFChange(c.name, probe, round(ce, 1), round(de, 1), blank)
                     for probe, ce, de, blank in (("attentive", c.ef, d.ef, d.blank[0]),
                                                  ("beat view", c.ef_beat, d.ef_beat, d.blank[1]))
                     if ce is not None and de is not None]
    return out


def mean_abs_change(efs: dict[str, dict[str, float | None]], role: str) -> float | None:
    """Mean |EF(condition) - EF(clean)| over the conditions, for one model."""
    base = efs["clean"][role]
    diffs = [abs(v[role] - base) for c, v in efs.items() if c != "clean" and v[role] is not None]
    return None if base is None or not diffs else float(np.mean(diffs))
