"""View 3: the cardiac cycle in each model's latent space (PCA/UMAP, 2D/3D, phase colours, ED/ES), the
numbers, a degraded copy overlaid, and the dataset view (one point per clip of a folder, by EF)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.server_paths import server_path
from app.session import cached, get_clip
from explain.analysis.audit import reasons_named
from explain.analysis.cycle import (MAX_POINTS, MIN_LOOP_PAIRS, POINTS_PER_BEAT, CycleResult, cycle,
                                    held_out_phase_errors)
from explain.analysis.pair import LoadedModel, file_stats, pair_key
from explain.trajectory.dataset import DatasetView, dataset_view
from model_zoo.evaluate.format import plus_minus

LEAD = ("Each point is the model's summary of the clip around one frame; the line joins them in time. A model "
        "that tracks the heartbeat draws a loop, with end-diastole (◆) and end-systole (■) far apart.")
CAPTION = ("The summaries have hundreds of numbers, so they are drawn through a projection: PCA keeps the directions "
           "along which they vary most (PC 1 the most), UMAP keeps each point's nearest neighbours near (its axes "
           "have no meaning of their own). The colour is the phase of the beat: 0 (and 1, the next beat) at "
           "end-diastole, the heart at its fullest: from the clip's ground truth where it has one, else estimated "
           "from the image, counted from the traced end-diastolic frame of an EchoNet clip (whose traced frames are "
           "the ◆ and ■). A long clip is sampled over a stretch of a few beats, 8 points or more a beat (the numbers "
           "say which frames). "
           "A loop that tracks the beat comes back to where it started each beat (the loop closure below). "
           "A degraded copy is drawn on the clean clip's axes (the projection is fitted on the clean clip alone): "
           "with PCA its offset shows; UMAP places each of its points among its nearest clean ones, so there its "
           "offset is the table's shift, not the picture. "
           "Each model's plot has its own axes (embeddings differ in scale): compare shapes, not sizes; a copy "
           "moved far off stretches the axes and can flatten the clean loop, so draw it without the copy too.")


def plot_dims(dims) -> int:
    """The Dimensions box's value as a number; none (an API call that leaves it out) is refused by name."""
    if dims in (None, ""):
        raise ValueError("No number of dimensions given: choose 2 or 3 in the Dimensions box.")
    return int(dims)


def trajectories(clip_key: str, pair: dict[str, LoadedModel], method: str = "pca", dims: int = 2,
                 condition: str | None = None) -> tuple[dict[str, CycleResult], str]:
    """({role: CycleResult}, the phase label: from ground truth or estimated, and how)."""
    names, dims = pair_key(pair), plot_dims(dims)
    cond = None if condition in (None, "", "none") else condition
    results, estimate = cached((clip_key, "cycle", names, method, dims, cond),
                               lambda: cycle(pair, get_clip(clip_key), method, dims, cond))
    return results, estimate.label


def numbers_markdown(results: dict[str, CycleResult], phase_label: str,
                     pair: dict[str, LoadedModel] | None = None) -> str:
    """The table under the plots and what its columns mean; pair: the models, for their held-out figures."""
    rows = ["| model | loop closure (0 = closes) | phase error (°, within clip; its chance) | phase error (°, held-out "
            "clips; chance 90) | shift under degradation (loop radii) |",
            "|---|---|---|---|---|"]
    fmt = lambda v, f: "n/a" if v is None else format(v, f)           # noqa: E731
    held = held_out_phase_errors([m.name for m in (pair or {}).values() if m.as_shipped])
    for r in results.values():
        within = fmt(r.phase_error_deg, '.0f') + ("" if r.phase_chance_deg is None else f" ({r.phase_chance_deg:.0f})")
        rows.append(f"| {r.name} | {fmt(r.loop_closure, '.2f')} | {within} | "
                    f"{_held_out_cell(held.get(r.name))} | {fmt(r.shift, '.2f')} |")
    return (f"Colours: {phase_label}.{_sampled_words(results)}\n\n" + "\n".join(rows) +
            "\n\nLoop closure: distance between the same phase one beat apart over the distance half a beat "
            f"apart (needs more than one beat, and {MIN_LOOP_PAIRS} points with one a beat later: from fewer it is "
            "mostly noise). Phase error: how far the phase decoded from the embedding lies from the "
            "true one, in degrees of the cycle (360° = one beat, so 36° is a tenth of it), cross-validated over "
            "this clip's own frames (each fold a stretch of it), an easy task; in brackets its chance, the same folds read "
            "from a constant embedding, which can exceed 90° on one clip: a held-out stretch's phases are missing from "
            f"the rest; {_held_out_words(held)}"
            "Shift under degradation: mean distance between the degraded copy's embedding and the clean clip's "
            "at the same frame, in units of the clean loop's radius (1 = moved by as much as the loop "
            "reaches from its centre; 0 = unmoved); n/a without a degraded copy. It measures a change of "
            "acquisition (stronger speckle, a shadow), which moves a model whether or not it ignores the grain; "
            "the speckle test (tab 5) measures a fresh draw of the same kind of speckle, the thing a JEPA may "
            "learn to leave out. The two can rank the models differently, and neither contradicts the other.")


def _sampled_words(results: dict[str, CycleResult]) -> str:
    """Which frames the points sample, where not the whole clip (a long clip: a stretch of a few beats)."""
    r = next(iter(results.values()), None)
    if r is None or not r.clip_frames or r.frames[-1] + 1 >= r.clip_frames:
        return ""
    step = int(np.median(np.diff(r.frames))) if len(r.frames) > 1 else 1
    every = "every frame" if step == 1 else f"every {step} frames"
    return (f" Points: {every} of frames 0-{r.frames[-1]} of the clip's {r.clip_frames}, a stretch of a "
            f"few beats: the whole clip in at most {MAX_POINTS} points would leave fewer than {POINTS_PER_BEAT} a beat "
            "and no loop to follow.")


def _held_out_cell(held: tuple[float, int, float | None] | None) -> str:
    """'68 ± 9' (mean ± sd over the held-out clips), '68' without a recorded spread, 'n/a' where not measured."""
    if held is None:
        return "n/a"
    deg, _, sd = held
    return plus_minus(deg, sd, 0)


def _held_out_words(held: dict[str, tuple[float, int, float | None]]) -> str:
    """The phase error on held-out clips, a read-out fit on other clips (explain/results), for the models the
    report measured (held: held_out_phase_errors of the shipped ones as they ship), with its spread over clips."""
    if not held:
        return "decoding held-out clips with a read-out fit on other clips is harder. "
    return ("decoded on held-out phantom clips with a read-out fit on other clips, a harder task, the error is "
            + " and ".join(f"{deg:.0f}° for {name} ({n} clips" + (f"; ± {sd:.0f}° from clip to clip)" if sd is not None
                                                                   else ")")
                           for name, (deg, n, sd) in held.items())
            + ", where a random guess scores 90° (python -m explain.latent_pixel.report). ")


def dataset_figures(folder: str, pair: dict[str, LoadedModel], method: str = "pca", dims: int = 2,
                    limit: int = 100) -> tuple[dict[str, go.Figure], str]:
    """({role: figure}: one point per clip of an EchoNet-layout folder, coloured by EF, in the projection chosen;
    markdown: how many clips each plot holds of how many the folder lists, and which could not be read, and why)."""
    root = server_path(folder, "The dataset view's folder") if (folder or "").strip() else None
    if root is None or not root.is_dir():
        raise ValueError(f"No folder at '{folder}': give a folder in EchoNet layout (FileList.csv, Videos/).")
    files = file_stats(root) + file_stats(root / "Videos")     # a folder mended since (a video put back): read again
    dims = plot_dims(dims)
    shown = {role: cached((str(root.resolve()), files, "dataset", m.key, limit, method, dims),
                          lambda m=m: dataset_view(m.wrapper, root, limit=limit, method=method, dims=dims)[::2])
             for role, m in pair.items()}                                         # (view, figure)
    return {role: fig for role, (_, fig) in shown.items()}, dataset_words(
        {pair[role].name: view for role, (view, _) in shown.items()}, limit)


def dataset_words(views: dict[str, DatasetView], limit: int) -> str:
    """What the dataset plots hold: each model's clips of those the folder lists (the first `limit`), and the clips
    that could not be read with the reason, once where every model read the same clips."""
    def words(view: DatasetView) -> str:
        tried = min(limit, view.listed)
        text = f"{len(view.names)} of the {tried} clips tried" + (
            f" (the first {limit} of the {view.listed} the folder lists)" if view.listed > limit else "")
        if view.skipped:
            text += f". {len(view.skipped)} could not be read ({reasons_named(view.skipped)})"
        return text
    said = {name: words(view) for name, view in views.items()}
    if len(set(said.values())) == 1:
        return f"Each plot holds {next(iter(said.values()))}."
    return " ".join(f"**{name}**: {text}." for name, text in said.items())
