"""Plotly figures for the latent-vs-pixel views; each builder returns (figure, caption), the
caption two or three plain sentences a clinician can follow."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from echo.anatomy import CARDIAC_STRUCTURES, LABELS
from explain.latent_pixel.grid import MaskSet, TokenGrid, grid_image, token_pixels
from explain.latent_pixel.jepa_view import JEPAView
from explain.latent_pixel.mae_view import HF_MARGIN, MAEView
from model_zoo.plot_style import FAMILY_COLOURS, TEMPLATE

LABEL_COLOURS = ("#000000", "#6b6b6b", "#c0392b", "#2e86c1", "#e67e22", "#16a085", "#f4d03f",
                 "#8e44ad", "#a04000", "#ff66cc", "#66ff99", "#b8b8b8")   # pericardium grey: seen on a white page


def _images(panels: list[tuple[str, np.ndarray]], title: str) -> go.Figure:
    """One row of images (H, W) grey or (H, W, 3) RGB uint8, titled."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], horizontal_spacing=0.02)
    for i, (_, img) in enumerate(panels, 1):
        rgb = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img
        fig.add_trace(go.Image(z=rgb, hoverinfo="skip"), 1, i)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(template=TEMPLATE, title=title, margin=dict(l=10, r=10, t=70, b=10), height=330)
    return fig


def grid_figure(frame: np.ndarray, g: TokenGrid, masks: MaskSet, time_slot: int = 0) -> tuple[go.Figure, str]:
    """The frame cut into tokens, then each JEPA mask generator's hidden tubelets and the MAE's, at
    one time slot. frame (size, size) uint8, the model-input frame."""
    hidden_px = lambda tokens: token_pixels(tokens, g)[time_slot * g.tubelet]    # noqa: E731  (H, W) bool
    per_slot = g.grid[1] * g.grid[2]
    panels = [(f"{per_slot} tokens per time slot x {g.grid[0]} slots<br>each {g.tubelet} frames x {g.patch} x {g.patch} px",
               grid_image(frame, g.patch))]                 # two lines: one would run into the next panel's title
    for i, (_, target) in enumerate(masks.jepa, 1):
        panels.append((f"JEPA mask {i}: {target.mean():.0%} hidden", grid_image(frame, g.patch, hidden_px(target))))
    panels.append((f"MAE mask: {masks.mae.mean():.0%} hidden", grid_image(frame, g.patch, hidden_px(masks.mae))))
    caption = (f"Both models cut the clip into small boxes of {g.tubelet} frames by {g.patch} x {g.patch} pixels "
               f"({g.n_tokens} boxes) and learn by hiding some (blue) and guessing them from the rest. The MAE "
               "hides almost everything, scattered, and must redraw the pixels; the JEPA hides larger blocks and "
               "only has to guess a summary (an embedding) of what is there.")
    return _images(panels, f"How a clip becomes tokens (time slot {time_slot}, masks drawn with seed {masks.seed})"), caption


def mae_figure(view: MAEView, frame: int = 0) -> tuple[go.Figure, str]:
    """Input, masked input, reconstruction and (phantom) clean anatomy at one frame, errors in the title."""
    panels = [("input (noisy)", view.frames[frame]), ("what the MAE sees", view.masked[frame]),
              ("MAE reconstruction", view.reconstruction[frame])]
    if view.clean is not None:
        panels.append(("clean anatomy (phantom)", view.clean[frame]))
    e = view.errors
    caption = ("The MAE sees only the visible boxes and redraws the hidden ones pixel by pixel; each hidden box's "
               "brightness and contrast are taken from the true box (as VideoMAE shows its reconstructions), the "
               "pattern inside is the MAE's. Speckle, the grainy texture of ultrasound, follows the tissue for a few "
               "frames but its pattern is random, so the grain inside a hidden box cannot be guessed from the boxes "
               "around it")
    if not np.isfinite(e["hf_ratio"]):          # boxes too small to leave an inside 3 blur widths from each edge
        caption += (f". Its boxes are too small (under {2 * HF_MARGIN + 1} px) to measure how much fine grain it "
                    "draws inside them, away from the steps between boxes.")
    else:
        caption += (f": the MAE's picture keeps {e['hf_ratio']:.1%} of the input's fine-grain energy (detail finer "
                    "than about 2 px)")
        caption += (f", where the clean anatomy keeps {e['hf_clean_ratio']:.0%}, so it blurs "
                    f"{'anatomy edges as well as the grain' if e['hf_ratio'] < e['hf_clean_ratio'] else 'the grain'}."
                    if "hf_clean_ratio" in e else ".")
    if "mse_vs_clean" in e:
        speckle_share = e["mse_noisy_vs_clean"] / max(e["mse_vs_noisy"], 1e-12)
        caption += (f" Its errors (mean squared, 0-1 grey scale): {e['mse_vs_noisy']:.4f} from the noisy frame it was "
                    f"trained to reproduce, {e['mse_vs_clean']:.4f} from the clean anatomy. The speckle alone, the "
                    f"noisy frame against the clean one, is {e['mse_noisy_vs_clean']:.4f}"
                    + (f", about {speckle_share:.0%} of the MAE's error: the rest is anatomy it did not draw."
                       if speckle_share < 1 else ", as large as the MAE's error or larger.") + _flat_words(e))
    else:
        caption += (f" Its error (mean squared, 0-1 grey scale) from the frame it was trained to reproduce: "
                    f"{e['mse_vs_noisy']:.4f}." + _flat_words(e))
    # the numbers are the caption's: four in the title were unreadable on a projector
    # frame of the model's view (one beat in its frames), not of the clip: 'frame 8' showed the clip's frame 22
    return _images(panels, f"MAE: pixel prediction (frame {frame} of the {len(view.frames)} it reads over one beat; "
                           "each hidden box's brightness is the true box's, its pattern the MAE's)"), caption


def _flat_words(e: dict) -> str:
    """The flat fill's errors beside the MAE's: the box brightness the reconstruction borrows already makes the two
    errors near equal, so what the MAE drew is its gain over a fill with no model."""
    if "flat_vs_noisy" not in e:
        return ""
    clean = f" and {e['flat_vs_clean']:.4f} from the clean anatomy" if "flat_vs_clean" in e else ""
    return (f" A fill with no model, each hidden box its true mean brightness, errs {e['flat_vs_noisy']:.4f} from the "
            f"noisy frame{clean}: what the MAE drew is its gain over that.")


COSINE_FLOOR = 0.5       # the cosine map's lowest colour: lower cosines share it


def jepa_figure(view: JEPAView, g: TokenGrid, time_slot: int = 0) -> tuple[go.Figure, str]:
    """The frame with its grid, the cosine similarity of each hidden token's prediction at one time
    slot, and the distribution of cosines against the visible-mean baseline."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        "input", f"prediction vs target (cosine), time slot {time_slot}<br>hidden by JEPA mask 1 (above)",
        "all hidden tokens (count)"))
    fig.add_trace(go.Image(z=grid_image(view.frames[time_slot * g.tubelet], g.patch), hoverinfo="skip"), 1, 1)
    # one scale for every clip (the same colour is the same cosine), from COSINE_FLOOR: over 0-1 all would be yellow
    h, w = view.cosine_map.shape[1:]
    fig.add_trace(go.Heatmap(z=view.cosine_map[time_slot], zmin=COSINE_FLOOR, zmax=1, colorscale="Viridis",
                             colorbar=dict(title="cosine", x=0.64, len=0.8, tickvals=[COSINE_FLOOR, 0.75, 1.0],
                                           ticktext=[f"≤ {COSINE_FLOOR:g}", "0.75", "1"]),
                             hovertemplate="row %{y}, column %{x}<br>cosine %{z:.2f}<extra></extra>"), 1, 2)
    fig.update_yaxes(autorange="reversed", scaleanchor="x2", range=[h - 0.5, -0.5], title="token row", row=1, col=2)
    fig.update_xaxes(range=[-0.5, w - 0.5], title="token column (blank: visible tokens)", row=1, col=2)
    fig.update_xaxes(title="cosine", row=1, col=3)
    fig.add_trace(go.Histogram(x=view.cosine, name="JEPA prediction", opacity=0.7, nbinsx=30,
                               marker_color=FAMILY_COLOURS["jepa"]), 1, 3)
    fig.add_trace(go.Histogram(x=view.baseline, name="guess: average visible token", opacity=0.7, nbinsx=30,
                               marker_color="#999999"), 1, 3)
    if view.position is not None:
        fig.add_trace(go.Histogram(x=view.position, name="guess: this position's usual token (other clips)",
                                   opacity=0.7, nbinsx=30, marker_color="#e7ba52"), 1, 3)
    fig.update_layout(template=TEMPLATE, barmode="overlay", height=400, margin=dict(l=10, r=10, t=70, b=60),
                      legend=dict(orientation="h", y=-0.25),
                      title=f"JEPA: latent prediction (mean cosine {view.summary['mean_cosine']:.2f}; guesses: "
                            f"visible average {view.summary['baseline_cosine']:.2f}"
                            + (f", position alone {view.summary['position_cosine']:.2f}"
                               if "position_cosine" in view.summary else "") + ")")
    fig.update_xaxes(visible=False, row=1, col=1)
    fig.update_yaxes(visible=False, row=1, col=1)
    caption = ("The JEPA does not redraw pixels: for each hidden box it predicts the summary its own target "
               "encoder makes of that box. A cosine of 1 means the prediction points exactly where the target "
               "does; the grey bars show a lazy guess (the average of the visible boxes) and, where measured, the "
               "yellow ones a guess from position alone (the mean target at each position over other phantom clips: "
               "what that position usually holds, never this clip). Grain that cannot be guessed from the visible "
               "boxes need not be represented, so it costs the JEPA nothing. "
               + _against_guess(view.summary["mean_cosine"], view.summary["baseline_cosine"],
                                view.summary.get("position_cosine")))
    return fig, caption


def _against_guess(cosine: float, guess: float, position: float | None = None) -> str:
    """What this clip's mean cosines say: whether the predictor beats the lazy guess here and, where measured, the
    guess from position alone (only beating that shows it read this clip's visible boxes)."""
    if cosine <= guess:
        return (f"Here the predictions (mean cosine {cosine:.2f}) do no better than the lazy guess ({guess:.2f}): this "
                "predictor has not learnt to predict this clip's hidden boxes, so its latents say little about them.")
    if position is None:
        return (f"Here the predictions (mean cosine {cosine:.2f}) beat the lazy guess ({guess:.2f}); the guess from "
                "position alone is measured only for models that learned from the phantom, so whether it read this "
                "clip's visible boxes or learnt what each position usually holds is not shown.")
    if cosine > position:
        return (f"Here the predictions (mean cosine {cosine:.2f}) beat the lazy guess ({guess:.2f}) and the guess from "
                f"position alone ({position:.2f}): the predictor uses what is visible in this clip.")
    return (f"Here the predictions (mean cosine {cosine:.2f}) beat the lazy guess ({guess:.2f}) but not the guess from "
            f"position alone ({position:.2f}), which never looks at this clip: the predictor has learnt what each "
            "position usually holds on these phantom hearts (which look alike), and predicts this clip's hidden "
            "boxes no better than that.")


def anatomy_figure(readouts: dict[str, dict], time_slot: int = 0,
                   held_out: dict[str, dict] | None = None, slots: int | None = None) -> tuple[go.Figure, str]:
    """Truth and each model's per-token anatomy read-out ({name: anatomy_probe.readout(...)}) at one slot;
    held_out: {name: the probe card} for its held-out scores beside the score of position alone. slots: how many
    time slots time_slot counts in (default: the first read-out's); a model on another grid is shown at its slot
    of the same moment."""
    if not readouts:
        raise ValueError("anatomy_figure needs at least one read-out")
    first = next(iter(readouts.values()))
    slots = slots or len(first["pred"])
    at = lambda grid: grid[time_slot * len(grid) // slots]         # noqa: E731  (T', H', W') -> (H', W')
    maps = [("tissue per token (truth)", at(first["truth"]))]
    maps += [(f"{n}: acc {r['accuracy']:.0%}, IoU {r['mean_iou']:.2f}", at(r["pred"])) for n, r in readouts.items()]
    # the colour key lists only the tissues some panel shows (absent ones, listed, read as found nowhere)
    shown = [k for k in LABELS if any((m == k).any() for _, m in maps)]
    slot = np.full(max(LABELS) + 1, -1)
    slot[shown] = np.arange(len(shown))                                   # label id -> its place in the key
    n = len(shown)
    scale = [[v, LABEL_COLOURS[k]] for i, k in enumerate(shown) for v in (i / n, (i + 1) / n)]
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=[t for t, _ in maps], horizontal_spacing=0.03)
    for i, (_, m) in enumerate(maps, 1):
        names = np.vectorize(lambda k: LABELS.get(k, "").replace("_", " "))(m)
        fig.add_trace(go.Heatmap(z=slot[m] + 0.5, zmin=0, zmax=n, colorscale=scale, showscale=i == len(maps),
                                 text=names, hovertemplate="%{text}<extra></extra>",
                                 colorbar=dict(tickvals=np.arange(n) + 0.5,
                                               ticktext=[LABELS[k].replace("_", " ") for k in shown])), 1, i)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i}", visible=False, row=1, col=i)
        fig.update_xaxes(visible=False, row=1, col=i)
    fig.update_layout(template=TEMPLATE, title=f"Anatomy read from the tokens (time slot {time_slot})", height=340,
                      margin=dict(l=10, r=10, t=70, b=10))
    truth = np.asarray(first["truth"])
    present = [LABELS[k].replace("_", " ") for k in np.unique(truth) if k in LABELS]
    thin = int(np.isin(truth, CARDIAC_STRUCTURES).sum())
    caption = ("Each box is labelled with the tissue that fills most of it, then a simple straight-line read-out "
               "tries to name that tissue from the model's summary of the box and where the box sits. At "
               f"{truth.shape[-1]} boxes across, thin walls and valves rarely fill most of a box: on this clip the "
               f"boxes hold {', '.join(present)}; a wall, valve or the pericardium fills {thin} of {truth.size} "
               "boxes, so the read-out mostly tells chambers from tissue and the outside of the fan. In the panels' "
               "titles, acc is the share of boxes named right and IoU, for each tissue, the overlap of the boxes "
               "named it with the boxes that hold it (shared / either; 1 = the same boxes), averaged over the tissues "
               "present.")
    scores = [f"{n} {card['test']['accuracy']:.0%} / IoU {card['test']['mean_iou']:.2f} (where its boxes sit "
              f"alone: {card['position_only']['accuracy']:.0%} / {card['position_only']['mean_iou']:.2f})"
              for n, card in (held_out or {}).items() if card.get("test") and card.get("position_only")]
    if scores:
        caption += (f" On held-out phantom clips: {'; '.join(scores)}: only the gain over where a box sits is "
                    "anatomy read from the image.")
    return fig, caption


def speckle_figure(results: dict[str, dict], families: dict[str, str] | None = None) -> tuple[go.Figure, str]:
    """Bar chart of the speckle ratio per encoder ({name: speckle.speckle_statistic(...)}), each bar in its
    family's colour (families: {name: 'jepa' | 'mae', or 'jepa untrained' | 'mae untrained' for an untrained
    network of that model's shape, in grey}); a JEPA's encoders side by side, before the MAE's, each family's
    untrained reference after it. The caption reads each trained ratio against its family's untrained one."""
    families = families or {}
    group = lambda n: (families.get(n) or "").split(" ")[0]                               # noqa: E731
    names = sorted(results, key=lambda n: group(n) != "jepa")                         # stable: order kept within
    ratios = [results[n]["ratio"] for n in names]
    colours = [FAMILY_COLOURS.get(families.get(n), "#7f7f7f") for n in names]
    fig = go.Figure(go.Bar(x=names, y=ratios, text=[f"{r:.2f}" for r in ratios], textposition="outside",
                           cliponaxis=False, marker_color=colours))
    fig.update_layout(template=TEMPLATE, title="Speckle test: embedding change from new speckle / change from a different heart",
                      yaxis_title="speckle / heart variance", yaxis_range=[0, 1.2 * max(ratios + [1e-6])],
                      height=360, margin=dict(l=10, r=10, t=60, b=10))
    caption = ("We scanned the same simulated heart several times with fresh speckle (the grain changes, the heart "
               "does not) and measured how much each model's summary of the clip moves, relative to how much it "
               "moves between different hearts. Lower means the summary follows the heart more than the grain. "
               "This is a fresh draw of the same speckle, not a stronger one: the cardiac "
               "cycle tab's 'shift under degradation' measures changed acquisitions (more speckle, a shadow), which "
               "can move a model that ignores the grain. A JEPA has two encoders, the EMA target (a slow average of "
               "the other) and the context encoder (trained by gradient); both are shown where its folder ships both.")
    untrained = {group(n): n for n in names if (families.get(n) or "").endswith(" untrained")}
    against = [f"{n} {results[n]['ratio']:.2f} against {results[untrained[group(n)]]['ratio']:.2f} untrained "
               f"({_moved(results[n]['ratio'], results[untrained[group(n)]]['ratio'])})"
               for n in names if n not in untrained.values() and group(n) in untrained]
    if against:
        caption += (" Grey: an untrained network of the same shape (one random draw), the ratio before any learning; "
                    "read each model against it, since an untrained network already follows the heart more than "
                    "the grain: " + "; ".join(against) + ".")
    return fig, caption


def _moved(trained: float, untrained: float) -> str:
    """How training moved a speckle ratio: 'raised 4.1x', 'lowered 1.4x' or 'about where it began' (within 25%)."""
    if trained > 1.25 * untrained:
        return f"training raised it {trained / untrained:.1f}x"
    if trained < untrained / 1.25:
        return f"training lowered it {untrained / trained:.1f}x"
    return "about where it began"
