"""View 7: the model cards and the benchmark table, the EchoJEPA preprint's figures beside ours."""
from __future__ import annotations

import json
from pathlib import Path

from explain.analysis.pair import LoadedModel
from model_zoo.evaluate.table import render_markdown
from model_zoo.experiments.scoreboard import committed_rows, scoreboard_figure

RESULTS = Path(__file__).resolve().parents[2] / "model_zoo" / "results.json"


def evidence_markdown(results_path: Path = RESULTS) -> str:
    """Our measured table (model_zoo/results.json, made by `python -m model_zoo.evaluate --out DIR --ship`)
    with the EchoJEPA preprint's figures beside it, labelled as theirs."""
    try:
        return render_markdown(json.loads(results_path.read_text()))
    except (OSError, ValueError, KeyError) as e:
        return (f"The benchmark table could not be read from {results_path} ({type(e).__name__}: {e}); "
                "`python -m model_zoo.evaluate --out DIR --ship` writes it.")


def recipes_figure():
    """(figure or None, caption): every committed evaluation's JEPA and MAE rows, clean EF against
    relative degradation (model_zoo.experiments.scoreboard); a message instead where they cannot be read."""
    try:
        fig, caption = scoreboard_figure(committed_rows(("jepa", "mae", "random", "pixels")))
        return fig, f"**Every recipe tried.** {caption}"
    except (OSError, ValueError, KeyError) as e:
        return None, (f"The recipes' results could not be read ({type(e).__name__}: {e}); "
                      "`python -m model_zoo.experiments.scoreboard` names the file.")


def card_markdown(model: LoadedModel) -> str:
    """A model's card in short: what it is, how it was trained, what it measured."""
    card = model.wrapper.card
    if not card:
        return f"### {model.name}\nNo model card (a checkpoint loaded from a path)."
    keep = {k: card[k] for k in ("method", "recipe", "architecture", "params_shipped", "steps", "wall_time_s",
                                 "peak_lr", "seed", "commit", "data") if k in card}
    return f"### {model.name}\n```json\n{json.dumps(keep, indent=1)}\n```"
