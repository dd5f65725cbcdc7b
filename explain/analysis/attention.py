"""Where each model of a pair looks in one clip, by any explain.attention_maps method: the map on the
frames the model saw (T, H, W) and, when the clip has anatomy labels, its focus on cardiac structures.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from echo.clip import Clip
from echo.image_stats import sector_mask_of
from explain.analysis.pair import LoadedModel
from explain.analysis.window import ModelView, views_for
from explain.attention_maps import EF_METHODS, TokenMap, clip_map
from explain.attribution.feature_ablation import n_features
from explain.attribution.integrated_gradients import STEPS as IG_STEPS
from explain.focus import focus_scores, structure_mask, tracing_structures
from explain.analysis.budget import check_budget
from model_zoo.cost import estimate


TRUSTED_DELTA_SHARE = 0.5    # a convergence delta over this share of the EF change it explains: not read
TRUSTED_AGREEMENT = 0.5      # a pretext map whose reliability over its mask draws (pretext) is below this: not read


def info_value(value):
    """A per-clip list of one value as that value (a map's info holds one entry per clip); anything else as it is."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def convergence_warning(method: str, info: dict) -> str | None:
    """Words for a gradient map whose convergence delta is over TRUSTED_DELTA_SHARE of the EF change it should add
    up to (integrated gradients' completeness; SmoothGrad's delta is a mean magnitude over its noisy copies, IG's a
    signed sum), or a pretext map whose reliability over its mask draws is below TRUSTED_AGREEMENT; None for a
    trusted map or a method with neither."""
    reliability = info_value(info.get("reliability"))
    if method == "pretext" and isinstance(reliability, float) and reliability < TRUSTED_AGREEMENT:
        n_masks = info_value(info.get("n_masks"))
        return (f"Unreliable: the map changes with the mask draws (the two halves of its {n_masks} "
                f"draws correlate at {info_value(info.get('draw_agreement')):.2f}, the whole map's reliability "
                f"{reliability:.2f}; trusted from {TRUSTED_AGREEMENT}): it shows these masks more than the objective "
                "(more draws steady it: the page's mask draws, explain.attribution.pretext_attribution's n_masks).")
    delta, change = info_value(info.get("convergence_delta")), info_value(info.get("ef_change"))
    if not isinstance(delta, float) or not isinstance(change, float) or abs(delta) <= TRUSTED_DELTA_SHARE * abs(change):
        return None
    shown = f"{delta:.2f} on average over the noisy copies" if method == "smoothgrad" else f"{delta:+.2f}"
    return (f"Unreliable: the convergence delta ({shown}) is {abs(delta) / max(abs(change), 1e-9):.1f}x the EF change "
            f"it should add up to ({change:+.2f}; trusted below half of it); raise the steps before reading this map.")


@dataclass
class AttentionResult:
    role: str
    name: str
    token_map: TokenMap          # values (T', H', W')
    heat: np.ndarray             # (T, H, W) float32 in [0, 1], normalised over the clip (display)
    view: ModelView              # the frames it lies on
    focus: dict | None           # explain.focus.FocusScore as a dict; None without anatomy labels

    @property
    def unreliable(self) -> str | None:
        """Why an integrated-gradients or SmoothGrad map should not be read (convergence_warning), else None."""
        return convergence_warning(self.token_map.method, self.token_map.info)

def focus_of(token_map: TokenMap, view: ModelView) -> dict | None:
    """Focus of a map on walls, valves, pericardium and chamber borders inside the sector (phantom
    labels), or on the traced LV border at the traced frames (EchoNet VolumeTracings), against the
    share their area would get by chance. None when the clip has neither."""
    mass = token_map.frames(view.frames.shape, scale="max")           # shares of mass kept
    if view.labels is not None:
        return {**focus_scores(mass, structure_mask(view.labels), domain=view.labels > 0).to_dict(),
                "structures": "walls, valves, pericardium, chamber borders"}
    if view.tracings:
        t, h, w = view.frames.shape
        border = np.zeros((t, h, w), bool)
        for i, seg in view.tracings.items():
            border[i] = tracing_structures(seg, h, w)
        domain = np.broadcast_to(sector_mask_of(view.frames), view.frames.shape)   # the sector, its black pools in
        return {**focus_scores(mass, border, domain=domain, frames=sorted(view.tracings)).to_dict(),
                "structures": "traced LV border"}
    return None


GRADIENT_METHODS = ("integrated_gradients", "smoothgrad", "pretext")


def model_clips(method: str, grid: tuple[int, int, int], params: dict) -> int:
    """About how many clips a method puts through the model (a progress bar's total); grid (T', H', W')."""
    if method in ("rollout", "paper"):
        return 1
    if method in ("occlusion", "feature_ablation"):                  # occlusion: one tubelet a feature
        return n_features(grid, params.get("cells", (1, 1, 1))) + 1  # the clip, then one per feature blacked out
    if method == "integrated_gradients":
        return params.get("n_steps", IG_STEPS) + 4                   # the path, then EF at both ends twice
    if method == "smoothgrad":
        return params.get("nt_samples", 4) * (params.get("n_steps", 8) + 2)   # each copy's path, EF at both ends
    return 2 * params.get("n_masks", 2)                              # pretext: masks x (context + target)


def forward_passes(method: str, grid: tuple[int, int, int], params: dict) -> float:
    """About how many forward(-and-backward) passes a method costs (backward counted as two forwards)."""
    return model_clips(method, grid, params) * (3 if method in GRADIENT_METHODS else 1)


def check_cost(model: LoadedModel, method: str, params: dict) -> None:
    """Refuse a map that would run for many minutes on the CPU (a ViT-L's occlusion is hours)."""
    check_budget(model, forward_passes(method, estimate(model.wrapper)["grid"], params), f"'{method}'",
                 "use rollout or the paper mode, or load the model with fewer frames")


def attention(models: dict[str, LoadedModel], clip: Clip, method: str = "rollout",
              beat: tuple[float, str] | None = None, progress: Callable[[float, str], None] | None = None,
              **params) -> dict[str, AttentionResult]:
    """{role: AttentionResult}; EF methods need a probe: a model without one raises ValueError naming it.
    A method too slow for the CPU is refused before it starts (check_cost). beat: frames per beat and
    its source when known (a degraded copy is shown the clean clip's; default: estimated from `clip`).
    progress(fraction, words), when given, hears how far the run is (an EF method: every pass)."""
    out = {}
    for m in models.values():
        check_cost(m, method, params)
        if method in EF_METHODS and m.probe is None:          # before any model's map is made
            raise ValueError(f"{m.name} has no EF probe, so '{method}' (an attribution of its EF) cannot run; "
                             "use 'rollout' with the mean read-out, 'paper' or 'pretext'.")
    views = views_for(models, clip, beat)                       # the clip's fan found once for both
    for k, (role, m) in enumerate(models.items()):
        on_clips = _counter(progress, k, len(models), m.name, method,
                            model_clips(method, estimate(m.wrapper)["grid"], params))
        view = views[m.input_shape]
        tmap = clip_map(m.wrapper, view.x, method, probe=m.probe, on_clips=on_clips, **params)
        out[role] = AttentionResult(role, m.name, tmap, tmap.frames(view.frames.shape), view, focus_of(tmap, view))
    if progress:
        progress(1.0, f"{method}: done")
    return out


def _counter(progress: Callable[[float, str], None] | None, k: int, n_models: int, name: str, method: str,
             total: int) -> Callable[[int], None] | None:
    """on_clips for model k of n_models: turns clips put through it into progress(fraction of the whole run, words)."""
    if progress is None:
        return None
    progress(k / n_models, f"{method}: {name} ({k + 1} of {n_models} models)")
    done = 0

    def on_clips(n: int) -> None:
        nonlocal done
        done += n
        share = min(done / total, 1.0)
        progress((k + share) / n_models, f"{method}: {name}, {done} of about {total} forward passes "
                                         f"({k + 1} of {n_models} models)")
    return on_clips
