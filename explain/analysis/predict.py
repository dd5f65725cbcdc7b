"""EF and out-of-distribution score of one clip for each model of a pair.

Each model sees the clip through its own input shape (model_view), so a real checkpoint at
16 x 224 px and a shipped one at 16 x 112 px each get what they expect.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from echo.clip import Clip
from explain.analysis.pair import LoadedModel, embed
from explain.analysis.window import ModelView, model_view

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

    def to_dict(self) -> dict:
        rounded = lambda v: None if v is None else round(v, 2)
        return {"name": self.name, "family": self.family, "ef": rounded(self.ef), "ef_beat": rounded(self.ef_beat),
                "ood": self.ood, "warning": self.warning}


def is_phantom_clip(clip: Clip) -> bool:
    """Whether the clip was rendered by echo.phantom (generated here, or one of the shipped examples)."""
    return bool(clip.meta.get("phantom")) or "example" in clip.meta         # set by echo.phantom / echo.examples


def views_for(models: dict[str, LoadedModel], clip: Clip, beat: tuple[float, str] | None = None
              ) -> dict[tuple[int, int], ModelView]:
    """One ModelView per distinct input shape among the models (beat: see model_view)."""
    return {m.input_shape: model_view(clip, *m.input_shape, beat=beat) for m in models.values()} if models else {}


def predict(models: dict[str, LoadedModel], clip: Clip, is_phantom: bool | None = None,
            beat: tuple[float, str] | None = None) -> dict[str, Prediction]:
    """{role: Prediction}. is_phantom: whether the clip comes from the phantom (default: its source says);
    beat: the frames per beat to use (a degraded copy takes its clean clip's; default: estimated)."""
    if is_phantom is None:
        is_phantom = is_phantom_clip(clip)
    views = views_for(models, clip, beat)
    out = {}
    for role, m in models.items():
        view = views[m.input_shape]
        tokens, ef, ef_beat = embed(m, view.x)
        ood = None if m.ood is None else m.ood.assess(tokens.mean(1).numpy())
        warning = None
        if (ef is not None or ef_beat is not None) and m.phantom_trained:
            warning = f"{m.name} {PHANTOM_WARNING}"
            if not is_phantom:
                warning = f"Real or unknown clip (not one EchoLens rendered): {warning}"
        out[role] = Prediction(role, m.name, m.family, ef, ood, warning, view, tokens, ef_beat)
    return out
