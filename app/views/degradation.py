"""View 4, the degradation lab: one degradation at a chosen severity (degraded frames beside the
original, both models' EF and its change), or a sweep over severity (the sensitivity curve)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.media import media_path
from app.session import cached, get_clip, put_clip
from app.views.inputs import upscale
from app.views.predictions import predictions
from echo.clip import Clip
from echo.degrade import check_degradation, degrade, label_words, named_severity
from echo.writers import write_mp4
from explain.analysis.degradation import ef_changes, sensitivity_figure, severity_sweep, working_copy
from explain.analysis.pair import LoadedModel, pair_key
from explain.analysis.predict import BLANK_POINTS, predict, reads_like_blank, shown_category
from explain.overlay import COLOURS, check_colours, overlay

CAPTION = ("Degrade the loaded clip as the benchmark does: inside its sector, with the clean clip's crop and "
           "beat, so only the pixels change. Pick a degradation and a severity, from 0 (the clean clip) to 1 (the "
           "strongest the benchmark tests: its darkest shadow, its steepest loss of signal with depth), then "
           "**Apply** (the degraded clip and each model's EF) or **Sweep severity** (EF from 0 to 1, the benchmark's "
           "named settings marked). 'Change' is the degraded EF minus the clean EF, in EF points, both read from the copy "
           "the degradations act on (the clip cropped to its sector, at most twice the models' side, grey, up to the "
           "last frame the models read), so a change is the degradation's alone; its clean EF can differ a little from "
           "the Predictions tab's.")


def apply_one(clip_key: str, pair: dict[str, LoadedModel], name: str, severity: float, seed: int = 0
              ) -> tuple[str, str]:
    """(MP4 of original | degraded model views side by side, markdown of each model's EF and change). The video
    is the first model's view; where the other model sees other frames or another size, the markdown says so."""
    check_degradation(name)
    clip = get_clip(clip_key)
    names = pair_key(pair)
    severity = named_severity(name, float(severity))        # the slider's 0.67 is the benchmark's shadow_med, 2/3

    def run():
        first = next(iter(pair))
        _, copy, beat = _clean_copy(clip_key, pair)        # the clean clip's crop and frames
        clean = cached((clip_key, "degrade", names, "clean"), lambda: predict(pair, copy, beat=beat))
        bad = predict(pair, degrade(copy, name, float(severity), seed=int(seed)), beat=beat)
        video = write_mp4(media_path(".mp4"), upscale(_side_by_side(clean[first].view.frames, bad[first].view.frames)),
                          clean[first].view.playback_fps)        # one beat in its real time, as the lab's other videos
        return str(video), clean, bad

    video, clean, bad = cached((clip_key, "degrade", names, name, float(severity), int(seed)), run)
    loaded = clip.meta.get("degradation")               # a clip loaded degraded: its EF is not a clean one
    before = "as loaded" if loaded else "clean"
    rows = [f"| model | probe | {before} EF | degraded EF | change (EF points) | category, {before} → degraded | "
            "all-black clip reads |", "|---|---|---|---|---|---|---|"]
    population = clip.meta.get("population")                      # the categories are adult ranges
    blank_notes = []
    flag = lambda near: " ⚠️" if near else ""                                      # noqa: E731
    for role, changes in ef_changes(clean, bad).items():
        for e in changes:
            clean_blank = reads_like_blank(e.clean, e.blank)
            moved = (f"{shown_category(e.clean, population, clean_blank)} → "
                     f"{shown_category(e.degraded, population, e.reads_blank)}")
            rows.append(f"| {e.name} | {e.probe} | {e.clean:.1f}%{flag(clean_blank)} | {e.degraded:.1f}%"
                        f"{flag(e.reads_blank)} | {e.change:+.1f} | {moved} | "
                        f"{'' if e.blank is None else f'{e.blank:.1f}%'} |")
            read = [f"{ef:.1f}% from the {which} clip" for ef, which, near in
                    ((e.clean, "loaded" if loaded else "clean", clean_blank), (e.degraded, "degraded", e.reads_blank))
                    if near]
            if read:
                blank_notes.append(f"{e.name} ({e.probe}) reads {' and '.join(read)}, within {BLANK_POINTS:g} "
                                   f"points of its {e.blank:.1f}% from an all-black one: it may be reading no heart, "
                                   "not this one")
        if not changes:
            rows.append(f"| {clean[role].name} | no probe | | | | | |")
    shown = (f"left: as loaded (already degraded: {label_words(loaded)}), right: with this degradation added"
             if loaded else "left: clean, right: degraded")
    head = f"**{label_words(f'{name} {float(severity):.2f}')}** ({shown}{_whose_view(pair)})"
    warnings = {p.warning for p in clean.values() if p.warning}
    note = "".join(f"\n\n⚠️ {w}." for w in blank_notes) + "".join(f"\n\n⚠️ {w}" for w in sorted(warnings))
    return video, head + "\n\n" + "\n".join(rows) + note


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two equally long videos (T, H, W[, 3]) side by side with a white gap: (T, H, W_left + 4 + W_right[, 3])."""
    return np.concatenate([left, np.full_like(left[:, :, :4], 255), right], axis=2)


def _clean_copy(clip_key: str, pair: dict[str, LoadedModel]) -> tuple[str, Clip, tuple[float, str]]:
    """(key, clip) of the copy every degradation of the clip acts on (working_copy), kept in the store: sized for
    this pair, so its key names the pair; derived, so it is made again once the store lets it go. Then the clean
    clip's beat (its predictions' view's, cached): every copy is shown the clean clip's frames."""
    key = f"{clip_key}:clean:{'|'.join(map(str, pair_key(pair)))}"
    beat = next(iter(predictions(clip_key, pair).values())).view.beat
    try:
        copy = get_clip(key)
    except ValueError:
        copy = working_copy(get_clip(clip_key), pair, beat=beat)                 # the frames of that beat
        put_clip(copy, key, owner=clip_key)
    return key, copy, beat


def _whose_view(pair: dict[str, LoadedModel]) -> str:
    """'' where every model sees the same input; else whose view the video is, and what the others see."""
    (first, *others) = pair.values()
    if all(m.input_shape == first.input_shape for m in others):
        return ""
    shape = lambda m: f"{m.input_shape[0]} frames of {m.input_shape[1]} px"          # noqa: E731
    return f", as {first.name} sees it, {shape(first)}; " + "; ".join(f"{m.name} sees {shape(m)}" for m in others)


def sweep(clip_key: str, pair: dict[str, LoadedModel], name: str, seed: int = 0) -> tuple[go.Figure, dict]:
    """(sensitivity figure, the sweep's numbers) for one degradation over severities 0..1."""
    check_degradation(name)
    clip = get_clip(clip_key)
    names = pair_key(pair)
    result = cached((clip_key, "sweep", names, name, int(seed)), lambda: severity_sweep(pair, clip, name, seed=int(seed)))
    truth = None if clip.truth is None else clip.truth.ef
    labels = {role: m.name for role, m in pair.items()}
    note = ("models learned from a simulated phantom: their EF is not a measurement"
            if any(m.phantom_trained for m in pair.values()) else "")
    adult = clip.meta.get("population") != "pediatric"                    # the categories are adult ranges
    return sensitivity_figure(result, labels, truth, note, bands=adult), result


def attention_under(clip_key: str, pair: dict[str, LoadedModel], name: str, severity: float, seed: int = 0,
                    colours: str = COLOURS) -> dict[str, tuple[str, str]]:
    """{role: (MP4 of the clean copy's rollout map | the degraded copy's, focus markdown)}: does the map move with
    it? Both maps are of the copy the degradations act on (working_copy: cropped, grey), clean and degraded, shown
    the clean clip's beat, so they cover the same frames and a move is the degradation's alone (as the lab's EFs);
    each in its own range, as on the Attention tab (where it looks; the focus ratios, which the markdown leads
    with, say how much of it lies on the anatomy). colours: the colour scale."""
    from app.views.attention import map_words, maps
    check_degradation(name)
    check_colours(colours)                          # before the copy and its maps are made
    severity = named_severity(name, float(severity))
    clean_key, copy, beat = _clean_copy(clip_key, pair)
    key = f"{clean_key}:{name}:{float(severity):.3f}:{int(seed)}"      # derived, so it can be rebuilt
    try:
        get_clip(key)
    except ValueError:
        put_clip(degrade(copy, name, float(severity), seed=int(seed)), key, owner=clip_key)
    params = ("rollout", "mean", 0.0, 0, "probe")
    clean = maps(clean_key, pair, *params, beat=beat)
    bad = maps(key, pair, *params, beat=beat)

    def write() -> dict[str, str]:
        videos = {}
        for role, after in bad.items():
            before = clean[role]
            side = _side_by_side(overlay(before.view.frames, before.heat, colours=colours),   # (T, S, S + bar, 3)
                                 overlay(after.view.frames, after.heat, colours=colours))
            videos[role] = str(write_mp4(media_path(".mp4"), side, after.view.playback_fps))
        return videos
    videos = cached((key, "lab maps", pair_key(pair), colours), write)
    shown = {role: (videos[role], map_words(r, "probe")) for role, r in bad.items()}
    ratio = lambda r: "n/a" if r.focus is None else f"{r.focus['ratio']:.2f}"          # noqa: E731
    return {role: (video, f"Focus ratio on the clean copy {ratio(clean[role])} (the copy the degradations act on: "
                          f"cropped to its sector, grey; left), on this degraded copy {ratio(bad[role])} (right)."
                          f"\n\n{words}")
            for role, (video, words) in shown.items()}
