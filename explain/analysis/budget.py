"""Answer, never hang: a view whose forward passes would run for minutes on the CPU is refused before it
starts, with the estimate (model_zoo.cost: about 36 s a pass for a ViT-L at 16 x 224 here)."""
from __future__ import annotations

from model_zoo.cost import estimate

MAX_CPU_SECONDS = 300.0      # longer than this on the CPU is refused, not started
MAX_EXTRA_SECONDS = 20.0     # an optional check (crop check, all-black reading) adding more is skipped (the crop check says so)


def cpu_seconds(model, passes: float) -> float:
    """Estimated seconds of `passes` forward passes of `model` (a LoadedModel) on this CPU; 0 on an accelerator."""
    return 0.0 if model.wrapper.device.type != "cpu" else estimate(model.wrapper)["cpu_seconds"] * passes


def check_budget(model, passes: float, what: str, advice: str = "load the model with fewer frames",
                 budget_s: float = MAX_CPU_SECONDS) -> None:
    """Raise ValueError when `passes` forward passes of `model` (a LoadedModel) would exceed budget_s on the CPU."""
    seconds = cpu_seconds(model, passes)
    if seconds > budget_s:
        est = estimate(model.wrapper)
        raise ValueError(f"{what} on {model.name} would take about {seconds / 60:.0f} min on this CPU "
                         f"({est['tokens']} tokens, {est['cpu_seconds']:.1f} s a pass): {advice}.")
