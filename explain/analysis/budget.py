"""Answer, never hang: a view whose forward passes would run for minutes on the CPU is refused before it
starts, with the estimate (model_zoo.cost: the model's size at the speed its own passes ran at here, or before
its first pass at this machine's speed at a large matrix product; a ViT-L at 16 x 224 took 36 s a pass on a busy
2-core CPU, 4.6 s on a quiet one). The refusal
(OverBudget) names the model, so the headless analysis can skip that view for that model alone and say why."""
from __future__ import annotations

from model_zoo.cost import cpu_speed, estimate

MAX_CPU_SECONDS = 300.0      # longer than this on the CPU is refused, not started
MAX_EXTRA_SECONDS = 20.0     # an optional check (crop check, all-black reading) adding more is skipped (the crop check says so)


class OverBudget(ValueError):
    """A view refused before it started: `passes` forward passes of `model` (a LoadedModel) would take about
    `seconds` on the CPU, over `budget_s`. A ValueError, so the page shows it as any refusal; the fields let a
    caller skip the view for this model and say what would let it run (explain.analysis.skipped_views)."""

    def __init__(self, message: str, model, what: str, passes: float, seconds: float, budget_s: float):
        super().__init__(message)
        self.model, self.what, self.passes, self.seconds, self.budget_s = model, what, passes, seconds, budget_s


def cpu_seconds(model, passes: float) -> float:
    """Estimated seconds of `passes` forward passes of `model` (a LoadedModel) on this CPU; 0 on an accelerator."""
    if model.wrapper.device.type != "cpu":
        return 0.0
    return estimate(model.wrapper)["cpu_seconds"] * passes             # at cpu_speed: measured, else this machine's


def check_budget(model, passes: float, what: str, advice: str = "load the model with fewer frames",
                 budget_s: float = MAX_CPU_SECONDS) -> None:
    """Raise OverBudget (a ValueError) when `passes` forward passes of `model` (a LoadedModel) would exceed
    budget_s on the CPU."""
    seconds = cpu_seconds(model, passes)
    if seconds > budget_s:
        speed, measured = cpu_speed(model.wrapper)
        est = estimate(model.wrapper, gflops_per_s=speed)
        how = ("as its passes ran here" if measured else
               "a guess from its size and this CPU's speed at a matrix product, until it has run a pass here")
        raise OverBudget(f"{what} on {model.name} would take about {seconds / 60:.0f} min on this CPU "
                         f"({est['tokens']} tokens, {est['cpu_seconds']:.1f} s a pass, {how}): {advice}.",
                         model, what, passes, seconds, budget_s)
