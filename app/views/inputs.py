"""Getting a clip in: upload, example, or a phantom clip generated with chosen EF, heart rate and
population; and what the page shows about it (the clip with its sector, the model's view, metadata).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.media import discard_upload, keep_upload, media_path, remove_refused_uploads
from app.session import put_clip
from app.views.numbers import seed_from
from echo.clip import Clip, ClipError
from echo.examples import load_example
from echo.phantom import render_clip
from echo.phantom.params import ADULT_EF_MEAN, ADULT_EF_STD, HR_RANGES
from echo.phantom.seeds import used_for
from echo.preprocess import Sector, fan_to_crop, find_sector
from echo.readers import read_clip
from echo.readers.common import ASSUMED_FPS_WORDS
from echo.writers import write_mp4
from explain.analysis.window import model_view

PHANTOM_FRAMES, PHANTOM_FPS, PHANTOM_SIZE = 64, 50.0, 112
EF_RANGE, HR_RANGE = (10.0, 85.0), (40.0, 160.0)
DISPLAY_SIDE = 224        # videos are shown at least this many pixels high
DISPLAY_MAX_SIDE = 640    # and the clip as loaded at most this wide or high (a 1024-px clip's colour copy: GBs)


@dataclass
class LoadedClip:
    key: str              # the clip's key in app.session
    original: str         # MP4: the clip as loaded, the sector the models read outlined in green
    model_view: str       # MP4: one beat, cropped and resized, as the models see it
    meta: dict            # what is known about the clip (never patient fields)
    summary: str          # markdown, one paragraph


def upscale(frames: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """(T, H, W[, 3]) -> same, nearest-neighbour enlarged so the shorter side is at least `side`."""
    k = max(1, int(np.ceil(side / min(frames.shape[1:3]))))
    return np.repeat(np.repeat(frames, k, axis=1), k, axis=2) if k > 1 else frames


def _outlined(clip: Clip, sector: Sector) -> Iterator[np.ndarray]:
    """(H', W', 3) uint8 frames, one at a time: the clip in colour with the detected sector's box drawn in green,
    every k-th pixel of a clip larger than DISPLAY_MAX_SIDE (k the smallest whole step that fits). One at a time, as
    write_mp4 encodes them: the whole copy (RGB) was about as large as a grey clip itself."""
    top, left, bottom, right = sector.bbox
    k = max(1, math.ceil(max(clip.height, clip.width) / DISPLAY_MAX_SIDE))
    for frame in clip.frames[:, ::k, ::k]:                                             # (H', W'[, 3]) views
        rgb = np.repeat(Clip(frame[None], clip.fps).gray()[0][..., None], 3, axis=-1)  # (H', W', 3)
        cv2.rectangle(rgb, (left // k, top // k), ((right - 1) // k, (bottom - 1) // k), (0, 220, 0), 1)
        yield rgb


def describe(clip: Clip) -> dict:
    """Facts about the clip shown to users: size, rate, source, reader facts, the ground truth if known."""
    meta = {"frames": clip.n_frames, "fps": round(clip.fps, 2), "height": clip.height, "width": clip.width,
            "colour": clip.is_rgb, "source": Path(clip.source).name}      # the file's name, not the server's path
    meta.update({k: v for k, v in clip.meta.items() if k not in meta})
    t = clip.truth
    if t is not None:                                  # what the file knows of its heart, as a clinician reads it
        for name, value in (("ground_truth_ef", t.ef), ("edv_ml", t.edv), ("esv_ml", t.esv)):
            if value is not None:
                meta[name] = round(float(value), 2)
        for name, frames in (("ed_frames", t.ed_frames), ("es_frames", t.es_frames)):
            if frames is not None and len(frames):
                meta[name] = [int(f) for f in frames]
    return meta


def register(clip: Clip, frames: int = 16, size: int = 112, owner: str | None = None) -> LoadedClip:
    """Store the clip (for `owner`, the page session loading it: app.session) and render what the page shows."""
    fan = fan_to_crop(clip)                        # found once: the models' crop and the outline shown
    view = model_view(clip, frames, size, sector=fan)
    beat, how = view.beat
    original = write_mp4(media_path(".mp4"), _outlined(clip, fan or find_sector(clip)), clip.fps)
    seen = write_mp4(media_path(".mp4"), upscale(view.frames), view.playback_fps)
    meta = describe(clip)
    meta["model_view"] = {"frames": frames, "size": size, "frames_per_beat": round(beat, 1), "beat_from": how,
                          "source_frames": view.indices.tolist()}
    truth = "" if clip.truth is None or clip.truth.ef is None else f" Ground-truth EF {clip.truth.ef:.1f}%."  # not meta's 0.01
    if clip.meta.get("phantom") and clip.meta.get("population"):
        population = clip.meta["population"]
        truth = f" {'An' if population[0] in 'aeiou' else 'A'} {population} phantom clip.{truth}"
    assumed = ASSUMED_FPS_WORDS if clip.meta.get("fps_source") == "default" else ""
    if how != "whole clip":
        meta["heart_rate_bpm"] = round(60.0 * clip.fps / beat, 1)     # one beat's length at the clip's frame rate
    seen_words = (f"the whole clip as one heartbeat ({beat:.1f} frames): no beat repeats in it, so where a beat "
                  "begins and ends is unknown and its EF and loop are less reliable" if how == "whole clip" else
                  f"one heartbeat ({beat:.1f} frames, {how}; heart rate about {meta['heart_rate_bpm']:.0f} bpm)"
                  if not view.held else
                  f"the whole clip, its last frame held for the rest of a heartbeat it does not fill ({beat:.1f} "
                  f"frames, {how}; the last {view.held} of the {frames} frames shown repeat it): part of the cycle "
                  "is missing, so its EF and loop are less reliable and no best estimate is given")
    about = f" ({clip.meta['description']})" if clip.meta.get("description") else ""     # a shipped example's
    summary = (f"**{Path(clip.source).name or 'clip'}**{about}: {clip.n_frames} frames at {clip.fps:.1f} fps{assumed}, "
               f"{clip.width}x{clip.height} px.{truth} Each model sees {seen_words}, cropped to the sector (green "
               f"box), at its own frame count and size: the shipped models at {frames} frames of {size}x{size} px, "
               "as shown" + (" in grey; a colour clip: the models are given its colour channels, which the shipped "
                             "models never saw in training (their phantom is grey)." if clip.is_rgb else "."))
    return LoadedClip(put_clip(clip, owner=owner), str(original), str(seen), meta, summary)


# The upload's stretch box (app.layout); echo.readers' message for deeper pixels names it in these words
RESCALE_LABEL = "Stretch 16-bit or float pixels"


CHOOSE_ANOTHER = "To choose another file, clear the upload box first (its × button)."


def load_upload(path: str | None, rescale: bool = False, owner: str | None = None) -> LoadedClip:
    """An uploaded file (AVI, MP4, DICOM cine, NPY/NPZ, a ZIP of PNG/JPEG frames); rescale: 16-bit or float
    pixels have the clip's own darkest-to-brightest range mapped onto 0-255 (echo.readers), else they are
    refused by name. A refused file leaves the server's upload folder in a while (app.media.discard_upload)."""
    if not path:
        raise ClipError("No file was uploaded.")
    try:
        clip = read_clip(path, rescale=bool(rescale))
    except Exception as e:                      # the file refused (not a failure of the server's own)
        raise _refused(path, e)
    clip.source = Path(path).name               # not the server's temporary upload path
    try:
        loaded = register(clip, owner=owner)    # refuses a clip read well that no model can read (no image, too short)
    except Exception as e:                      # and whatever else fails: the file is not kept either way
        raise _refused(path, e) from None
    keep_upload(path)
    return loaded


def _refused(path: str, e: Exception) -> Exception:
    """What to raise for a refused upload, marked for removal in a while (unless another session reads it meanwhile):
    a ClipError says to clear the box, which keeps the file and hides its drop zone until cleared."""
    discard_upload(path)
    remove_refused_uploads()
    return ClipError(f"{e} {CHOOSE_ANOTHER}") if isinstance(e, ClipError) else e


def load_named_example(name: str, owner: str | None = None) -> LoadedClip:
    return register(load_example(name), owner=owner)


def phantom_frames(hr_bpm: float) -> int:
    """Frames at PHANTOM_FPS for two beats, at least PHANTOM_FRAMES: at a slow rate 64 frames held less than
    one beat, and the clip summary then promised a beat the clip did not have."""
    return max(PHANTOM_FRAMES, math.ceil(2 * PHANTOM_FPS * 60.0 / hr_bpm))


def generate_phantom(ef: float, hr_bpm: float, population: str, seed: int, owner: str | None = None) -> LoadedClip:
    """A phantom clip at 50 fps with the chosen EF and heart rate, two beats long (64 frames at least)."""
    if ef is None or not EF_RANGE[0] <= float(ef) <= EF_RANGE[1]:
        raise ClipError(f"EF must lie between {EF_RANGE[0]:.0f} and {EF_RANGE[1]:.0f}%; got {ef}.")
    if hr_bpm is None or not HR_RANGE[0] <= float(hr_bpm) <= HR_RANGE[1]:
        raise ClipError(f"Heart rate must lie between {HR_RANGE[0]:.0f} and {HR_RANGE[1]:.0f} bpm; got {hr_bpm}.")
    clip = render_clip(seed_from(seed, "Seed"), population, n_frames=phantom_frames(float(hr_bpm)), size=PHANTOM_SIZE,
                       fps=PHANTOM_FPS, ef=float(ef), hr_bpm=float(hr_bpm))
    loaded = register(clip, owner=owner)
    loaded.summary += "".join(f"\n\n⚠️ {w}" for w in phantom_notes(float(ef), float(hr_bpm), population, seed))
    return loaded


def phantom_notes(ef: float, hr_bpm: float, population: str, seed) -> list[str]:
    """What a heart with these settings has that the shipped models' adult phantom hearts rarely or never had,
    and whether its seed draws the anatomy of a heart they already used; said beside the settings as they are
    chosen and in the summary of the clip made (a seed that is no whole number: nothing said of it here)."""
    try:
        number = seed_from(seed, "Seed")
        seen = used_for(number, population)
    except ValueError:
        number = seen = None                     # generating names the problem
    reused = (f"Seed {number} draws the anatomy of a heart in {seen} (echo.phantom.seeds): with the EF and rate "
              "chosen here it is not that clip, but the models have seen its shape. Seeds below 1,000,000 are unused.")
    low, high = HR_RANGES["adult"]
    words = []
    if not low <= hr_bpm <= high:
        words.append(f"{hr_bpm:.0f} bpm lies outside the {low:.0f}-{high:.0f} bpm of the adult phantom hearts the "
                     "shipped models learned from.")
    if abs(ef - ADULT_EF_MEAN) > 2 * ADULT_EF_STD:
        words.append(f"An EF of {ef:.0f}% is rare among the adult phantom hearts the shipped probes learned from "
                     f"(mean {ADULT_EF_MEAN:.1f}%, std {ADULT_EF_STD:.1f}): they pull such EFs toward the mean, so "
                     f"expect them to read it {'too high' if ef < ADULT_EF_MEAN else 'too low'}.")
    return words + ([reused] if seen else [])
