"""Latent vs pixel prediction on one clip, for a JEPA | MAE pair: how the clip becomes tokens and
each model's masks (one seed, same clip), the MAE's reconstruction, the JEPA's predicted latents,
the anatomy each model's tokens carry, and the speckle test (a property of each model, measured on
phantom hearts rendered again with fresh speckle).

Each view is (plotly figure, plain caption, numbers), or a message saying why a model cannot give it
(a checkpoint without a decoder, predictor or anatomy probe).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import plotly.graph_objects as go

import model_zoo

from echo.clip import Clip
from explain.analysis.budget import check_budget
from explain.analysis.pair import LoadedModel, files_stamp
from explain.latent_pixel.anatomy_probe import load_anatomy_probe, readout, unfit_for
from explain.latent_pixel.figures import anatomy_figure, grid_figure, jepa_figure, mae_figure, speckle_figure
from explain.latent_pixel.grid import clip_masks, token_grid
from explain.latent_pixel.jepa_view import jepa_view, position_prior
from explain.latent_pixel.mae_view import mae_view
from explain.latent_pixel.speckle import UNTRAINED, UNTRAINED_SEED, speckle_test
from explain.analysis.window import model_view
from model_zoo.checkpoint import NoContextEncoder
from model_zoo.features import input_shape, random_encoder, split_seeds

SPECKLE_HEARTS, SPECKLE_DRAWS = tuple(split_seeds("test", 8)), 4   # the evaluation's first 8 test hearts, 4 draws each
SPECKLE_PASSES = len(SPECKLE_HEARTS) * SPECKLE_DRAWS    # phantom clips through each encoder


@dataclass
class TeachingView:
    title: str
    figure: go.Figure | None
    caption: str
    numbers: dict = field(default_factory=dict)


def _try(title: str, build) -> TeachingView:
    try:
        return build()
    except (ValueError, FileNotFoundError, NotImplementedError) as e:
        return TeachingView(title, None, f"Not available: {str(e).rstrip('.')}.")


VIEW_TITLES = ("How a clip becomes tokens", "MAE: predicting pixels", "JEPA: predicting latents",
               "What anatomy the tokens carry")         # teaching_views' four, in order


def teaching_views(pair: dict[str, LoadedModel], clip: Clip, seed: int = 0, time_slot: int = 0) -> list[TeachingView]:
    """Token grid and masks, MAE reconstruction, JEPA prediction, anatomy read-out, in that order. Two models
    that cut a clip into different grids cannot share masks: the grid view then says so, and each model's
    own panel draws masks for its own grid (one seed)."""
    jepa, mae = pair["jepa"].wrapper, pair["mae"].wrapper
    shared = tuple(jepa.grid) == tuple(mae.grid)
    masks = clip_masks(jepa, mae, seed) if shared else None
    g = token_grid(jepa)
    slot = min(max(int(time_slot), 0), g.grid[0] - 1)
    frame = model_view(clip, g.frames, g.size).frames[slot * g.tubelet]

    def grid_view():
        both = masks or clip_masks(jepa, mae, seed)                   # different grids: refused, by name
        fig, cap = grid_figure(frame, g, both, slot)
        return TeachingView(VIEW_TITLES[0], fig, cap,
                            {"tokens": g.n_tokens, "mae_hidden": float(both.mae.mean()),
                             "jepa_hidden": [float(t.mean()) for _, t in both.jepa]})

    def mae_panel():
        g_mae = token_grid(mae)
        v = mae_view(mae, clip, (masks or clip_masks(None, mae, seed)).mae)
        mae_slot = slot * g_mae.grid[0] // g.grid[0]                  # the same moment of the beat on its grid
        fig, cap = mae_figure(v, mae_slot * g_mae.tubelet)
        return TeachingView(VIEW_TITLES[1], fig, cap, dict(v.errors))

    def jepa_panel():
        ctx, tgt = (masks or clip_masks(jepa, None, seed)).jepa[0]
        prior = _position_prior(jepa) if pair["jepa"].phantom_trained else None    # other models: not their clips
        v = jepa_view(jepa, clip, ctx, tgt, prior=prior)
        fig, cap = jepa_figure(v, g, slot)
        return TeachingView(VIEW_TITLES[2], fig, cap,
                            dict(v.summary))

    def anatomy_panel():
        probes, without, unfit = {}, [], []
        for m in pair.values():                   # a model without one leaves the other's read-out standing
            try:
                probe = load_anatomy_probe(m.folder or m.name)
            except FileNotFoundError:
                without.append(m.name)
                continue
            why = unfit_for(probe, m.name, m.wrapper)     # another model's, or another grid's: it would read noise
            if why:
                unfit.append(f"{m.name}: {why}")
            else:
                probes[m.name] = (m, probe)
        if not probes:
            reasons = [f"{' and '.join(without)} ships none"] if without else []
            raise ValueError(f"neither model has an anatomy probe it can read with ({'; '.join(reasons + unfit)})")
        reads = {name: readout(m.wrapper, clip, probe) for name, (m, probe) in probes.items()}
        fig, cap = anatomy_figure(reads, slot, {name: probe.meta for name, (_, probe) in probes.items()}, g.grid[0])
        if without:
            cap += f" {' and '.join(without)} ships no anatomy probe, so it has no panel here."
        if unfit:
            cap += f" No panel for {'; '.join(unfit)}."
        return TeachingView(VIEW_TITLES[3], fig, cap,
                            {n: {"accuracy": r["accuracy"], "mean_iou": r["mean_iou"]} for n, r in reads.items()})

    return [_try(title, build) for title, build in zip(VIEW_TITLES, (grid_view, mae_panel, jepa_panel, anatomy_panel))]


@functools.lru_cache(maxsize=2)       # the pair in use: a larger cache held models the user had left
def _position_prior(wrapper):
    """position_prior once per loaded model (16 phantom clips through its target encoder)."""
    return position_prior(wrapper)


@functools.lru_cache(maxsize=2)       # keyed on the encoders themselves: a larger cache held models the user had left
def _speckle(names: tuple[str, ...], wrappers: tuple) -> dict:
    return speckle_test(dict(zip(names, wrappers)), list(SPECKLE_HEARTS), SPECKLE_DRAWS)


OTHER_ENCODER = {"target": "context", "context": "target"}      # a JEPA's two encoders, each to the other
ENCODER_LABEL = {"target": "EMA target", "context": "context"}


@functools.lru_cache(maxsize=2)       # the pair in use: each a whole encoder
def _other_encoder(name: str, folder: str | None, readout: str, frames: int | None = None, stamp: str = ""):
    """The JEPA's other encoder than the one it reads clips through (the context encoder beside the EMA
    target, or the target beside a context readout), or None where it has no context encoder (a folder without
    one, a checkpoint with the target encoder alone). One present but damaged is refused by name: every ValueError
    had read as 'none' and the encoder left the speckle test without a word. frames: the count the JEPA itself
    runs at ('Frames for large checkpoints'), so both encoders see the same inputs. stamp: the folder's files'
    (files_stamp), so a folder exported again under the same path loads afresh, as load_model does."""
    try:
        return model_zoo.load(folder or name, device="cpu", encoder=OTHER_ENCODER[readout],
                              overrides={"frames": int(frames)} if frames else None)
    except NoContextEncoder:
        return None


def speckle_ratios(pair: dict[str, LoadedModel], with_context: bool = True, untrained: bool = True) -> dict[str, dict]:
    """{encoder: {'within', 'between', 'ratio'}}: variance of each encoder's pooled embedding across
    fresh speckle of one heart over its variance across hearts (8 held-out phantom hearts x 4 draws).
    Encoders: 'jepa' (the one it reads clips through: the EMA target encoder unless its recipe reads the
    context encoder), 'jepa_context' or 'jepa_target' (its other one, when the folder ships both), 'mae', and with
    `untrained` 'jepa_untrained' and 'mae_untrained' (an untrained network of each one's shape: the reference).
    `pair` may hold one model (the headless analysis runs the test on the models fast enough for it), and models
    of different input shapes (a checkpoint at 224 px beside a shipped model at 112) are tested apart."""
    encoders = {r: m.wrapper for r, m in pair.items()}
    jepa = pair.get("jepa")
    readout = jepa.wrapper.readout if jepa is not None else "target"
    where = str(jepa.folder) if jepa is not None and jepa.folder else None
    other = (_other_encoder(jepa.name, where, readout, jepa.frames_override, files_stamp(where or jepa.name))
             if with_context and jepa is not None else None)
    if other is not None:
        encoders[f"jepa_{OTHER_ENCODER[readout]}"] = other
    if untrained:
        encoders.update({f"{r}_untrained": _untrained(m.wrapper) for r, m in pair.items()})
    names, result = tuple(encoders), {}
    for shape in dict.fromkeys(input_shape(w) for w in encoders.values()):     # speckle_test takes one input shape
        group = tuple(n for n in names if input_shape(encoders[n]) == shape)
        result.update(_speckle(group, tuple(encoders[n] for n in group)))
    return {n: result[n] for n in names}


@functools.lru_cache(maxsize=2)       # one per model of the pair in use (each a whole network)
def _untrained(wrapper):
    """An untrained network of the wrapper's shape (speckle.UNTRAINED), once per loaded model."""
    return random_encoder(wrapper, UNTRAINED_SEED)


def speckle_view(pair: dict[str, LoadedModel]) -> TeachingView:
    """The page's speckle test: every model, the JEPA's other encoder and an untrained twin of each; refused
    (OverBudget) before it starts where a model's share is over the CPU limit (a ViT-L checkpoint)."""
    for role, m in pair.items():
        check_budget(m, SPECKLE_PASSES * (3 if role == "jepa" else 2), "The speckle test")   # itself, twin, other
    ratios = speckle_ratios(pair)
    jepa, readout = pair["jepa"].name, pair["jepa"].wrapper.readout
    labels = {"jepa": f"{jepa} ({ENCODER_LABEL[readout]})",
              f"jepa_{OTHER_ENCODER[readout]}": f"{jepa} ({ENCODER_LABEL[OTHER_ENCODER[readout]]})",
              "mae": pair["mae"].name,
              **{f"{r}_untrained": UNTRAINED.format(m.name) for r, m in pair.items()}}
    family = lambda r: ("mae" if r.startswith("mae") else "jepa") + (" untrained" if r.endswith("_untrained") else "")  # noqa: E731
    fig, cap = speckle_figure({labels[r]: v for r, v in ratios.items()}, {labels[r]: family(r) for r in ratios})
    return TeachingView("The speckle test", fig, cap, {r: v["ratio"] for r, v in ratios.items()})
