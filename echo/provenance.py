"""Where a phantom clip came from, carried inside the files EchoLens writes (NPZ entries, a video's
comment tag), so that the clip uploaded again is treated as the phantom clip it is: no 'real or unknown
clip' warning, a child's clip called zero-shot, a degraded one said to be. A video has no other place for
ground truth, so its comment also carries the phantom's EF (an NPZ keeps it with the rest of the truth).

    fields_of(clip, ef=True)   # {'population', 'seed'?, 'degradation'?, 'ef'?} of a phantom clip, else None
    to_comment(fields)         # 'echolens-phantom {"population": "adult", ...}' for a video's comment tag
    from_comment(text, name)   # the clip meta back ({} for any other comment; 'ef' for its truth)
    checked(fields, name)      # the meta from fields read out of a file, each checked (ClipError names it)

A file's provenance is the writer's claim, as its ground-truth EF is: read, checked for sense, not proven.
"""
from __future__ import annotations

import json

from echo.clip import Clip, ClipError
from echo.phantom.params import POPULATIONS

PREFIX = "echolens-phantom "
MAX_LABEL = 200          # characters of a degradation label (echo.degrade.compose's are ~40)


def fields_of(clip: Clip, ef: bool = False) -> dict | None:
    """A phantom clip's population, seed and degradation label (those it has), and with ef its true EF;
    None for any other clip."""
    meta = clip.meta
    if not meta.get("phantom") or meta.get("population") is None:
        return None
    fields = {"population": str(meta["population"])}
    if meta.get("seed") is not None:
        fields["seed"] = int(meta["seed"])
    if meta.get("degradation"):
        fields["degradation"] = str(meta["degradation"])
    if ef and clip.truth is not None and clip.truth.ef is not None:
        fields["ef"] = round(float(clip.truth.ef), 4)
    return fields


def checked(fields: dict, name: str) -> dict:
    """Clip meta ({'phantom': True, 'population', 'seed'?, 'degradation'?}) from provenance read out of the
    file `name`; anything that makes no sense is refused by name."""
    population = fields.get("population")
    if population not in POPULATIONS:
        raise ClipError(f"'{name}' names its phantom population {population!r}, not one of {', '.join(POPULATIONS)}.")
    meta = {"phantom": True, "population": population}
    if "seed" in fields:
        seed = fields["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ClipError(f"'{name}' gives a phantom seed that is not one whole number ({seed!r}).")
        meta["seed"] = seed
    if "degradation" in fields:
        label = fields["degradation"]
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise ClipError(f"'{name}' gives a phantom degradation that is not one short text.")
        meta["degradation"] = label
    if "ef" in fields:
        ef = fields["ef"]
        if not isinstance(ef, (int, float)) or isinstance(ef, bool) or not 0 <= ef <= 100:
            raise ClipError(f"'{name}' gives a phantom EF that is not a percentage ({ef!r}).")
        meta["ef"] = float(ef)
    return meta


def to_comment(fields: dict) -> str:
    return PREFIX + json.dumps(fields, sort_keys=True)


def from_comment(text: str | None, name: str) -> dict:
    """The meta a video's comment tag carries; {} for a comment EchoLens did not write."""
    if not text or not text.startswith(PREFIX):
        return {}
    try:
        fields = json.loads(text[len(PREFIX):])
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise ClipError(f"'{name}' has an EchoLens phantom comment that cannot be read; re-export the clip.")
    return checked(fields, name)
