"""EF and out-of-distribution score of one clip for each model of a pair.

Each model sees the clip through its own input shape (model_view), so a real checkpoint at
16 x 224 px and a shipped one at 16 x 112 px each get what they expect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from echo.clip import Clip
from explain.attribution.baseline import black_like
from explain.analysis.budget import MAX_EXTRA_SECONDS, cpu_seconds
from explain.analysis.crop_check import crop_efs
from explain.analysis.pair import LoadedModel, embed
from explain.analysis.window import ModelView, views_for

PHANTOM_WARNING = "learned from a simulated phantom, not from patients: this EF is not a measurement."


@dataclass
class Prediction:
    role: str
    name: str
    family: str
    ef: float | None             # None: the model has no EF probe
    ood: dict | None             # OODReference.assess, None without a reference
    warning: str | None          # said beside the EF whenever it may be mistaken for a measurement
    view: ModelView
    tokens: torch.Tensor         # (1, N, D) on the CPU
    ef_beat: float | None = None  # EF through the beat view's probe; None: the model ships none
    blank: tuple[float | None, float | None] = (None, None)   # (ef, ef_beat) of an all-black clip: blank_efs
    crop: dict | None = None     # EFs with the input a few px higher and lower (crop_check.crop_efs)

    def to_dict(self) -> dict:
        """report.json's entry; each EF as read (rounded here, then to one decimal where shown, 64.746 became 64.75
        and '64.8' where the page showed 64.7)."""
        return {"name": self.name, "family": self.family, "ef": self.ef, "ef_beat": self.ef_beat,
                "ef_blank": self.blank[0], "ef_beat_blank": self.blank[1],
                "ef_near_blank": near_blank(self.ef, self.blank[0]),
                "ef_beat_near_blank": near_blank(self.ef_beat, self.blank[1]),
                "crop_check": self.crop, "ood": self.ood, "warning": self.warning}


_blank: dict[tuple, tuple[float | None, float | None]] = {}
BLANK_POINTS = 3.0          # an EF this near the probe's reading of an all-black clip says little of the clip


EF_CATEGORY_WORDS = ("Category: the adult EF ranges of the universal definition of heart failure (Bozkurt et al. "
                     "2021), on the EF as shown (one decimal) rounded half up to a whole % (40.5 is 41): 40% or less "
                     "reduced, 41-49% mildly reduced, 50% or more normal or preserved; n/a for a child's clip, an "
                     "impossible EF or one near its all-black reading.")


# (category, lowest EF shown that falls in it, highest): ef_category's ranges on the EF as shown, for plots' bands
EF_CATEGORY_BANDS = (("reduced", 0.0, 40.5), ("mildly reduced", 40.5, 49.5), ("normal or preserved", 49.5, 100.0))


def ef_category(ef: float | None) -> str | None:
    """What a clinician reads an adult EF as first (EF_CATEGORY_WORDS); None for no EF or an impossible one."""
    if ef is None or is_impossible(ef):
        return None
    shown = round(ef, 1)                           # the EF as shown (0.1), then half up: 40.5 is 41
    return next((name for name, _, high in EF_CATEGORY_BANDS[:-1] if shown < high), EF_CATEGORY_BANDS[-1][0])


def shown_category(ef: float | None, population: str | None, near_blank: bool) -> str:
    """The category a table shows beside an EF: 'n/a' for a child's clip (adult ranges), an EF near its probe's
    all-black reading (it may be no heart's), an impossible or missing one."""
    return (ef_category(ef) if population != "pediatric" and not near_blank else None) or "n/a"


def reads_like_blank(ef: float | None, blank: float | None) -> bool:
    """Whether an EF lies within BLANK_POINTS of what the same probe reads from an all-black clip."""
    return ef is not None and blank is not None and abs(ef - blank) <= BLANK_POINTS


def near_blank(ef: float | None, blank: float | None) -> bool | None:
    """reads_like_blank for a result file: None where it was not checked (no EF, or no all-black reading)."""
    return None if ef is None or blank is None else reads_like_blank(ef, blank)


def near_blank_words(ef: float | None, blank: float | None, probe: str = "This probe") -> str:
    """'' or the warning for an EF within BLANK_POINTS of what `probe` reads from an all-black clip."""
    if not reads_like_blank(ef, blank):
        return ""
    return (f"{probe} also reads {blank:.1f}% from an all-black clip, within {BLANK_POINTS:g} EF points of "
            f"{ef:.1f}%: this number alone cannot show that it read this heart.")


def blank_efs(m: LoadedModel) -> tuple[float | None, float | None]:
    """(attentive, beat view) EF of an all-black clip at the model's input: what its probes say with no heart
    to read, so an EF close to it can be seen to say little about the clip (once per model and process)."""
    if m.key and m.key in _blank:
        return _blank[m.key]
    if cpu_seconds(m, 1) > MAX_EXTRA_SECONDS:     # a large checkpoint on the CPU: not worth a pass of its own
        return None, None
    frames, size = m.input_shape
    _, ef, ef_beat = embed(m, black_like(torch.zeros(1, frames, 3, size, size)))       # (1, T, C, S, S)
    efs = tuple(v if v is not None and math.isfinite(v) else None for v in (ef, ef_beat))
    if m.key:                                    # a hand-built model has no key to tell it from another
        _blank[m.key] = efs
    return efs


def is_phantom_clip(clip: Clip) -> bool:
    """Whether the clip was rendered by echo.phantom (generated here, or one of the shipped examples)."""
    return bool(clip.meta.get("phantom")) or "example" in clip.meta         # set by echo.phantom / echo.examples


def predict(models: dict[str, LoadedModel], clip: Clip, is_phantom: bool | None = None,
            beat: tuple[float, str] | None = None, crop_check: bool = False) -> dict[str, Prediction]:
    """{role: Prediction}. is_phantom: whether the clip comes from the phantom (default: its source says);
    beat: the frames per beat to use (a degraded copy takes its clean clip's; default: estimated); crop_check:
    also the EFs with the clip a few pixels higher and lower (two more passes a model; crop_check.py)."""
    if is_phantom is None:
        is_phantom = is_phantom_clip(clip)
    views = views_for(models, clip, beat)
    out = {}
    for role, m in models.items():
        view = views[m.input_shape]
        tokens, ef, ef_beat = embed(m, view.x)
        # the reference was fitted on embeddings at the model's own frame count: at another it scores another input
        ood = None if m.ood is None or not m.at_own_frames else m.ood.assess(tokens.mean(1).numpy())
        reads_ef = ef is not None or ef_beat is not None
        out[role] = Prediction(role, m.name, m.family, ef, ood, _warning(m, is_phantom, ef, ef_beat), view, tokens,
                               ef_beat, blank_efs(m) if reads_ef else (None, None),
                               crop_efs(m, view.x) if crop_check and reads_ef else None)
    return out


def is_impossible(ef: float | None) -> bool:
    """An EF outside 0-100%: the probe reads far beyond what it learned from, or its EF scale is wrong."""
    return ef is not None and not 0.0 <= ef <= 100.0


def _warning(m: LoadedModel, is_phantom: bool, ef: float | None, ef_beat: float | None) -> str | None:
    """What must be said beside a model's EF: that a phantom-trained model's EF is no measurement, that an EF
    outside 0-100% is impossible, that nothing checks a model shipped without an OOD reference; None: nothing."""
    efs = [v for v in (ef, ef_beat) if v is not None]
    if not efs:
        return None
    words = []
    if m.phantom_trained:
        words.append(f"{m.name} {PHANTOM_WARNING}")
        if not is_phantom:
            words[-1] = f"Real or unknown clip (not one EchoLens rendered): {words[-1]}"
    impossible = [v for v in efs if is_impossible(v)]
    if impossible:
        words.append(f"EF {impossible[0]:.1f}% is impossible (an EF lies between 0 and 100%): the probe is reading "
                     "this clip far beyond what it learned from, or its EF scale is wrong (for a converted checkpoint, "
                     "check the export's --ef-mean and --ef-std).")
    if m.ood is None:
        words.append(f"{m.name} ships no out-of-distribution reference, so nothing here says whether this clip is "
                     "like the clips its EF probe learned from.")
    return " ".join(words) or None
