"""View 2: where each model looks. The chosen map as an overlay video per model, a frame scrubber, and
the focus score (share of the map on walls, valves, pericardium and chamber borders vs chance)."""
from __future__ import annotations

import numpy as np

from app.media import media_path
from app.session import cached, get_clip, peek
from echo.preprocess import crop_to_sector
from explain.analysis.attention import AttentionResult, attention, convergence_warning, info_value
from explain.analysis.pair import LoadedModel, pair_key
from explain.attention_maps import METHODS, default_readout
from explain.attribution.integrated_gradients import STEPS as IG_STEPS
from explain.focus_report import recorded_verdicts
from explain.overlay import (COLOUR_SCALES, COLOURS, EVEN_SCALES, check_colours, display_scale, overlay,
                             write_overlay_mp4)
from explain.trajectory.phase import clip_phase, marks_at

# The Method box's words for each method (its values stay the names the API and explain/ take)
METHOD_LABELS = {"rollout": "attention rollout", "paper": "paper mode (EchoJEPA's figure)",
                 "occlusion": "occlusion", "feature_ablation": "feature ablation",
                 "integrated_gradients": "integrated gradients", "smoothgrad": "SmoothGrad",
                 "pretext": "pretext loss (each model's own task)"}

SCRUB_LABEL = "{} at this frame"          # a scrubbed image's label before a frame is shown (the role, upper case)
PHASE_NAMES = {"ED": "end-diastole, the heart at its fullest", "ES": "end-systole, at its emptiest"}
CAPTION = ("Higher on the colour bar and more opaque = more weight in the model's view of the clip (the bar's top "
           "colour is reached at the clip's top 2%, so one peak does not hide the rest). Each panel has its own scale: "
           "compare where the two models look, not how strongly. What each method weighs is said under the method's "
           "name.")
# the Colour scale box's words for each scale (its values stay explain.overlay's names)
COLOUR_LABELS = {name: f"{name} ({words})" for name, (_, words) in COLOUR_SCALES.items()}
COLOUR_INFO = (f"{' and '.join(EVEN_SCALES)} rise evenly in lightness and read the same to red-green colour-blind "
               "eyes; one choice for the Attention tab and the Degradation lab")
# what each method's map shows, in words (the page shows the chosen method's under its controls)
METHOD_WORDS = {
    "rollout": "**Attention rollout**: attention followed through every layer, read out by the EF probe's query "
               "or the mean over all tokens (in Python also one token's): where the model gathers information "
               "from. No EF is involved beyond the probe's query.",
    "paper": "**Paper mode** (the EchoJEPA figure): one layer's attention, its most peaked head only: a sharper, "
             "less complete picture than the rollout.",
    "occlusion": "**Occlusion** (Captum): each 2-frame x 16 px block blacked out in turn; the map is how far the "
                 "EF prediction moves (one forward pass per block, about 390 for a shipped model: with SmoothGrad "
                 "the slowest methods, tens of seconds for the shipped pair on a CPU, where a rollout takes a second "
                 "or two).",
    "feature_ablation": "**Feature ablation** (Captum): regions of blocks (2 x 2 by default: 2 frames x 32 x 32 px), "
                        "each set to black in turn; the map is how far the EF prediction moves. A coarser occlusion "
                        "at a fraction of its cost (about a third at 2 x 2; with one block per region the two are "
                        "equal, map for map).",
    "integrated_gradients": "**Integrated gradients** (Captum): EF's gradient integrated along the path from a "
                            "black clip to this one, per pixel, summed per block. Trust it only when its "
                            "convergence delta is small against the EF change it explains (both are shown).",
    "smoothgrad": "**SmoothGrad** (Captum NoiseTunnel over integrated gradients): averaged over noisy copies of "
                  "the clip (noise 15% of the clip's range, as SmoothGrad's authors advise), which quiets "
                  "speckle-level gradient noise.",
    "pretext": "**Pretext attribution**: not EF but each model's own training loss (the JEPA's latent "
               "prediction, the MAE's pixel reconstruction) attributed to the input by gradient x input: what "
               "its pretraining task depends on. Averaged over random mask draws: more draws steady it (on the "
               "adult example the MAE's map is unreliable at 2 draws, 0.17, and reliable at 16, 0.81).",
}


# The controls each method reads (app.layout shows only these for the chosen method), in the order of
# _params' arguments after the method
CONTROL_NAMES = ("fusion", "discard", "start", "readout", "layer", "mode", "steps", "region", "draws")
CONTROLS = {"rollout": ("fusion", "discard", "start", "readout"), "paper": ("layer", "mode"),
            "integrated_gradients": ("steps",), "smoothgrad": ("steps",), "feature_ablation": ("region",),
            "pretext": ("draws",)}
# feature ablation's region sizes on the page (rows x columns of blocks, one time slot): one block is
# occlusion's grid at one forward pass a block; larger regions cost fewer passes and blur the map
REGIONS = {"1 x 1": (1, 1, 1), "2 x 2": (1, 2, 2), "4 x 4": (1, 4, 4)}
REGION = "2 x 2"            # the page's default
# pretext attribution's mask draws on the page: its split-half reliability on the adult example at 2 / 4 / 8 / 16 draws,
# JEPA 0.59 / 0.85 / 0.95 / 0.96, MAE 0.17 / 0.24 / 0.44 / 0.81 (trusted from 0.5): 16, both maps trusted, at 32 passes
PRETEXT_DRAWS = 16


def control_visibility(method: str) -> list[bool]:
    """Whether each control (CONTROL_NAMES order) is shown for `method`."""
    return [name in CONTROLS.get(method, ()) for name in CONTROL_NAMES]


def _params(method: str, head_fusion: str, discard_ratio: float, start_layer: int, readout: str,
            layer: int = -1, mode: str = "received", n_steps: int = IG_STEPS, region: str = REGION,
            n_masks: int = PRETEXT_DRAWS) -> dict:
    """The parameters the chosen method reads (explain.attention_maps.clip_map); the rest are ignored."""
    if method == "rollout":
        return {"head_fusion": head_fusion, "discard_ratio": float(discard_ratio),
                "start_layer": int(start_layer), "readout": readout}
    if method == "paper":
        return {"layer": int(layer), "mode": mode}
    if method in ("integrated_gradients", "smoothgrad"):
        return {"n_steps": int(n_steps)}
    if method == "feature_ablation":
        if region not in REGIONS:
            raise ValueError(f"Unknown region size {region!r} for feature ablation; choose one of: {', '.join(REGIONS)}.")
        return {"cells": REGIONS[region]}
    if method == "pretext":
        return {"n_masks": int(n_masks)}
    return {}


# What each method reports, in words (explain.attention_maps' info keys); keys not named here are shown as they are
INFO_LABELS = {
    "layer": "layer", "head": "most peaked head", "query": "query token (-1: attention received, no single query)",
    "window": "occluded block (frames, channels, px, px)", "strides": "step (frames, channels, px, px)",
    "objective": "pretext loss", "loss": "its value on this clip", "n_masks": "mask draws",
    "hidden_share": "share of the attribution on the hidden boxes", "hidden_area": "hidden boxes' share of the tokens",
    "draw_agreement": "agreement of the two halves of the mask draws (correlation)",
    "reliability": "the whole map's reliability over its draws (2r / (1 + r))",
    "convergence_delta": "convergence delta (sum of attributions - EF change; 0 = exact)",
    "ef_change": "EF change from the black baseline to the clip", "n_steps": "integration steps",
    "nt_samples": "noisy copies", "stdev": "noise std (normalised input)",
    "head_fusion": "head fusion", "discard_ratio": "discard ratio", "start_layer": "start layer",
    "readout": "read-out",
    "features": "regions blacked out", "cells": "blocks per region (time, rows, columns)",
}
# SmoothGrad's delta is the mean magnitude over its noisy copies, its EF change their mean (noise_tunnel): not IG's
SMOOTHGRAD_LABELS = {"convergence_delta": "mean |convergence delta| over the noisy copies (0 = exact)",
                     "ef_change": "mean EF change from the black baseline over the noisy copies"}
READOUT_WORDS = {"probe": "the EF probe's query", "token": "one query token", "mean": "the mean over all tokens"}


def _plain(value):
    """A list of one value as that value (info_value), a longer one as 'a x b x c' (the sizes info reports), numbers
    to 3 significant digits."""
    value = info_value(value)
    if isinstance(value, list):
        return " x ".join(str(_plain(v)) for v in value)
    return float(f"{value:.3g}") if isinstance(value, float) else value


def info_markdown(r: AttentionResult, asked_readout: str | None = None) -> str:
    """What the method reported, in words: the paper mode's layer and head, IG's convergence delta, the
    rollout's read-out (and why, when it is not the one asked for)..."""
    info = {k: v for k, v in r.token_map.info.items() if isinstance(v, (int, float, str, list))}
    if "readout" in info:
        used = info["readout"]
        info["readout"] = READOUT_WORDS.get(used, used) + (
            " (the EF probe's read-out needs an EF probe on both models)" if asked_readout == "probe" != used else "")
    for share in ("hidden_share", "hidden_area"):
        if isinstance(info.get(share), float):
            info[share] = f"{info[share]:.0%}"
    method = METHOD_LABELS.get(r.token_map.method, r.token_map.method)     # the maps' own, whatever the box says now
    labels = {**INFO_LABELS, **(SMOOTHGRAD_LABELS if r.token_map.method == "smoothgrad" else {})}
    words = "; ".join([f"method: {method}", *(f"{labels.get(k, k)}: {_plain(v)}" for k, v in info.items())])
    unreliable = convergence_warning(r.token_map.method, r.token_map.info)
    return f"⚠️ {unreliable} {words}" if unreliable else words


def _key(clip_key: str, pair: dict[str, LoadedModel], method: str, *settings,
         beat: tuple[float, str] | None = None) -> tuple[tuple, dict]:
    """(cache key, the method's own parameters): settings a method ignores do not split the cache."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    params = _params(method, *settings) if settings else _params(method, "mean", 0.0, 0, "probe")
    if params.get("readout") == "probe" and any(default_readout(m.probe) == "mean" for m in pair.values()):
        params["readout"] = "mean"        # a checkpoint without a probe, or whose probe mixes tokens first: the column mean
    return (clip_key, "attention", pair_key(pair), method, tuple(sorted(params.items())), beat), params


def kept_maps(clip_key: str, pair: dict[str, LoadedModel], method: str, *settings) -> dict[str, AttentionResult] | None:
    """The maps of these settings if they are still kept (the result cache is shared and bounded), else None; never
    starts a method (the scrubber and a redraw in another colour scale read maps already made)."""
    return peek(_key(clip_key, pair, method, *settings)[0])


def maps(clip_key: str, pair: dict[str, LoadedModel], method: str, head_fusion: str = "mean",
         discard_ratio: float = 0.0, start_layer: int = 0, readout: str = "probe", layer: int = -1,
         mode: str = "received", n_steps: int = IG_STEPS, region: str = REGION, n_masks: int = PRETEXT_DRAWS,
         beat: tuple[float, str] | None = None, progress=None) -> dict[str, AttentionResult]:
    """Each model's map of the clip (cached); beat, progress: see explain.analysis.attention.attention."""
    key, params = _key(clip_key, pair, method, head_fusion, discard_ratio, start_layer, readout, layer, mode, n_steps,
                       region, n_masks, beat=beat)
    return cached(key, lambda: attention(pair, get_clip(clip_key), method, beat=beat, progress=progress, **params))


def focus_markdown(r: AttentionResult) -> str:
    if r.focus is None and r.view.traced_elsewhere:
        shown = r.view.indices
        return (f"**{r.name}**: this clip's LV tracings (frames {', '.join(map(str, r.view.traced_elsewhere))}) are "
                f"on none of the frames the model sees ({', '.join(map(str, shown))}), so no focus score.")
    if r.focus is None:
        return f"**{r.name}**: no anatomy masks or LV tracings for this clip, so no focus score."
    f = r.focus
    where = f["structures"]
    frames = "" if where != "traced LV border" else f" (the {f['frames']} traced frames)"
    # a share of the weight inside the sector (focus.py), not of the whole map: beside the share outside it below,
    # '27% of the map' read as twice the 14% of the whole map a diffuse rollout put there
    return (f"**{r.name}**: {100 * f['focus_share']:.0f}% of the map's weight inside the ultrasound sector lies on the "
            f"{where}{frames}, which cover {100 * f['chance_share']:.0f}% of the sector (focus ratio "
            f"**{f['ratio']:.2f}**; 1 = no better than chance). Peak on it in {100 * f['pointing_game']:.0f}% of "
            f"frames.{_outside_words(f)}")


def _outside_words(f: dict) -> str:
    """The share of the map outside the ultrasound sector, which the focus ratio leaves out, beside the share of the
    frame that lies there; ⚠️ where the map puts more there than an even map would ('' under 1%)."""
    share, area = f.get("outside_share") or 0.0, f.get("outside_area")
    if share < 0.01:
        return ""
    even = "" if area is None else (f"; that region is {100 * area:.0f}% of the frame, what an even map would put "
                                    "there")
    words = (f" {100 * share:.0f}% of the map lies outside the ultrasound sector, where there is no tissue to read "
             f"(the focus ratio counts only the mass inside it{even}).")
    return f" ⚠️{words}" if area is not None and share > area else words


def overlay_videos(clip_key: str, pair: dict[str, LoadedModel], method: str, *params,
                   beat: tuple[float, str] | None = None, progress=None,
                   colours: str = COLOURS) -> dict[str, tuple[str, str]]:
    """{role: (overlay MP4 path, focus markdown)}; progress(fraction, words) hears how far the maps are; beat: a
    degraded copy's (its clean clip's beat); colours: the colour scale (explain.overlay.COLOUR_SCALES), which
    changes the videos only, not the maps."""
    check_colours(colours)
    results = maps(clip_key, pair, method, *params, beat=beat, progress=progress)

    def write():
        return {role: str(write_overlay_mp4(media_path(".mp4"), r.view.frames, r.heat, r.view.playback_fps,
                                            colours=colours))
                for role, r in results.items()}                          # one beat plays in real time
    key, method_params = _key(clip_key, pair, method, *params, beat=beat)
    videos = cached(key + ("video", colours), write)
    asked = params[3] if method == "rollout" and len(params) > 3 else None       # (fusion, discard, start, readout, ...)
    # the focus report measured clean adult clips: a lab's degraded copy (handed its clean clip's beat) gets no
    # verdict; a clip loaded degraded, or a child's, gets none and is told why
    unlike = "" if beat is not None else unlike_the_focus_report(get_clip(clip_key).meta)
    faithful = {role: "" if beat is not None else _for_this_clip(faithfulness_words(r, pair[role], method_params),
                                                                 unlike) for role, r in results.items()}
    return {role: (videos[role], map_words(r, asked, faithful[role])) for role, r in results.items()}


def faithfulness_words(r: AttentionResult, model: LoadedModel, params: dict) -> str:
    """Whether this kind of map tracks what drives the model's EF, as the committed focus report measured it on
    held-out phantom clips (deletion and insertion against random orders, and against the clip-blind control where
    recorded): only for the shipped model as it ships and a map made with the report's settings (params: clip_map's);
    '' otherwise."""
    if not model.as_shipped:
        return ""
    used = {**params, "readout": r.token_map.info["readout"]} if "readout" in r.token_map.info else params
    recorded = recorded_verdicts(r.name, r.token_map.method, used)
    if recorded is None:
        return ""
    verdicts, n = recorded
    control = recorded_verdicts(r.name, r.token_map.method, used, "vs_control")
    against = ("" if control is None else
               f" Against a map of the frame's middle that ignores the clip: {control[0]['deletion']} on removing, "
               f"{control[0]['insertion']} on restoring.")
    return (f"Faithful to its EF? On {n} held-out phantom clips, the same kind of map at these settings: removing "
            f"its top blocks first moved {r.name}'s EF {verdicts['deletion']}; restoring them first brought it back "
            f"{verdicts['insertion']} (`python -m explain.focus_report`). Random orders are a low bar: they "
            "follow no place in the clip, so a map that favours the middle of the sector whatever the clip can beat "
            f"them too.{against}")


def unlike_the_focus_report(meta: dict) -> str:
    """'' for a clip like those the focus report measured (clean adult phantom clips; an upload of unknown
    population is taken as adult); else what it is: 'degraded' (the page's degraded example, a lab copy) or 'a
    child's'."""
    if meta.get("degradation"):
        return "degraded"
    return "" if meta.get("population") in (None, "adult") else "a child's"


def _for_this_clip(verdict: str, unlike: str) -> str:
    """The recorded verdict for a clip like the focus report's; for another (unlike: unlike_the_focus_report), why
    none is given, where one was recorded for this kind of map."""
    if not (verdict and unlike):
        return verdict
    return f"No faithfulness verdict: the focus report measured clean adult phantom clips, and this one is {unlike}."


def map_words(r: AttentionResult, asked_readout: str | None = None, faithful: str = "") -> str:
    """The focus score, whether such a map was found faithful (`faithful`: faithfulness_words, left out beside a map
    called unreliable), and what the method reported; an unreliable map says so before its focus score."""
    focus, info = focus_markdown(r), info_markdown(r, asked_readout)
    if info.startswith("⚠️"):
        return f"{info}\n\n{focus}"
    return focus + (f"\n\n{faithful}" if faithful else "") + (f"\n\n{info}" if info else "")


def cycle_marks(clip_key: str, indices: np.ndarray) -> dict[str, int]:
    """{'ED' | 'ES': frame of the models' view} for a view's source frames, from the clip's phase as the cycle
    view finds it (ground truth, else estimated; explain.trajectory.phase)."""
    estimate = cached((clip_key, "phase"), lambda: clip_phase(crop_to_sector(get_clip(clip_key))))
    return marks_at(estimate, indices)


def frame_label(role: str, t: int, n_frames: int, marks: dict[str, int]) -> str:
    """The scrubbed image's label: the frame, what it is (end-diastole, end-systole) or where those are."""
    here = [f"{m} ({PHASE_NAMES[m]})" for m, at in marks.items() if at == t]
    where = ", ".join(f"{m} at {at}" for m, at in marks.items())
    return (f"{role.upper()} at frame {t} (of 0-{n_frames - 1}" + (f"; {where})" if where and not here else ")")
            + (f": {', '.join(here)}" if here else ""))


def scrub(clip_key: str, pair: dict[str, LoadedModel], method: str, frame: int,
          *params, colours: str = COLOURS) -> dict[str, tuple[np.ndarray, str]] | None:
    """{role: ((3S, 3(S + bar), 3) uint8, label)} the overlay (enlarged 3x for the page) at one frame of a map already made and its label
    (frame_label), for the scrubber; None when that map has not been made (the scrubber never starts a computation).
    `frame` counts the longer view's frames (the slider's range); a model seeing fewer frames of the beat is shown
    its frame at the same moment of it."""
    check_colours(colours)
    results = kept_maps(clip_key, pair, method, *params)
    if results is None:
        return None
    longest = max(r.view.n_frames for r in results.values())
    moment = int(np.clip(frame, 0, longest - 1))
    out = {}
    for role, r in results.items():
        t = moment * r.view.n_frames // longest                     # each view is one beat: the same share of it
        img = overlay(r.view.frames[t:t + 1], r.heat[t:t + 1], scale=display_scale(r.heat),   # the video's colours
                      colours=colours)[0]
        big = np.repeat(np.repeat(img, 3, axis=0), 3, axis=1)          # enlarged for the page
        out[role] = (big, frame_label(role, t, r.view.n_frames, cycle_marks(clip_key, r.view.indices)))
    return out
