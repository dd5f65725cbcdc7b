"""Views a headless analysis (`python app.py analyze`) or an audit leaves out for a model too slow for them on the CPU.

The page refuses such a view with its estimate (explain.analysis.budget); a report that stopped there wrote
nothing, so a ViT-B at its own 16 frames got no report at all. Here each view runs on the models whose
estimate fits, and each model refused gets a note saying which view, the estimate, and what would run it:
`--frames N` (the most frames that fit, by the same estimate) or an accelerator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from explain.analysis.budget import OverBudget
from explain.analysis.pair import is_shipped
from model_zoo.cost import forward_gflops, suggest_frames
from model_zoo.features import input_shape

ACCELERATOR = "on a GPU (--device cuda or mps), where no limit applies"


@dataclass(frozen=True)
class Rerun:
    """How the reader runs a view again: the command's verb, how it asks for fewer frames ('{n}': the count), and
    where no limit applies. The command line's by default; the page says its own (app/views/audit.py)."""
    command: str = "analyze"
    frames: str = "--frames {n}"
    accelerator: str = ACCELERATOR


def skip_words(e: OverBudget, rerun: Rerun = Rerun()) -> str:
    """Why the view did not run for e.model, and what would run it: a frame count whose estimate (scaled from the
    one refused, so both rest on one CPU speed) fits the budget, or an accelerator (alone for a shipped model, which
    keeps its own frame count), in the words of `rerun`."""
    wrapper, passes = e.model.wrapper, e.passes
    per_pass = e.seconds / passes
    gflops_per_s = forward_gflops(wrapper)[1] / per_pass          # the speed the refused estimate assumed
    frames = suggest_frames(wrapper, e.budget_s / passes, gflops_per_s)
    fewer = forward_gflops(wrapper, frames)[1] / gflops_per_s * passes
    said = (f"{e.what} on {e.model.name} would take about {e.seconds / 60:.0f} min on this CPU ({passes:g} "
            f"forward passes of about {per_pass:.1f} s; the limit is {e.budget_s / 60:.0f} min), so it was not run")
    fewer_frames = rerun.frames.format(n=frames)
    if e.model.key and is_shipped(str(e.model.key[0])):     # fewer frames leave a shipped model at its own count
        return f"{said}. To run it, {rerun.command} {rerun.accelerator}."
    if fewer <= e.budget_s:
        return (f"{said}. To run it, {rerun.command} again with {fewer_frames} (about {fewer / 60:.1f} min here; the "
                f"model then sees {frames} frames rather than {input_shape(wrapper)[0]}) or {rerun.accelerator}.")
    return (f"{said}; even {fewer_frames} would take about {fewer / 60:.0f} min. To run it, {rerun.command} "
            f"{rerun.accelerator}.")


def on_models_that_fit(view: str, run: Callable[[dict], object], pair: dict, skipped: dict[str, dict[str, str]],
                       rerun: Rerun = Rerun()):
    """run(models) for the models of `pair` whose estimate fits the CPU budget (None when none does): each model
    refused is left out, with skip_words in skipped[role][view], and run is tried again on the others (the views
    check every model before they start, so a refusal costs nothing)."""
    models = dict(pair)
    while models:
        try:
            return run(models)
        except OverBudget as e:
            if e.model.role not in models:          # not one of these models: not ours to skip
                raise
            skipped[e.model.role][view] = skip_words(e, rerun)
            del models[e.model.role]
    return None
