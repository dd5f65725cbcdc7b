"""View 7: the model cards and the benchmark table, the EchoJEPA preprint's figures beside ours."""
from __future__ import annotations

import json
from pathlib import Path

from app.views.predictions import probe_test_words, run_at_fewer_frames
from explain.analysis.pair import LoadedModel
from model_zoo.evaluate.claims import check_claims, claim_pairs
from model_zoo.evaluate.format import plus_minus
from model_zoo.evaluate.ship import ZOO_RESULTS
from model_zoo.evaluate.table import render_markdown
from model_zoo.experiments.scoreboard import committed_rows, scoreboard_figure
from model_zoo.registry import assumed_notes

RESULTS = ZOO_RESULTS          # model_zoo/results.json, as `python -m model_zoo.evaluate --ship` writes it


def evidence_markdown(results_path: Path = RESULTS) -> str:
    """Our measured table (model_zoo/results.json, made by `python -m model_zoo.evaluate --out DIR --ship`)
    with the EchoJEPA preprint's figures beside it, labelled as theirs."""
    try:
        results = json.loads(results_path.read_text())
        return at_a_glance(results) + render_markdown(results)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:    # hand-edited: a list, a null entry
        return (f"The benchmark table could not be read from {results_path} ({type(e).__name__}: {e}); "
                "`python -m model_zoo.evaluate --out DIR --ship` writes it.")


def at_a_glance(results: dict) -> str:
    """The claims' verdicts first, for each JEPA | MAE pair of the table: what an auditor looks for."""
    lines = []
    for jepa, mae in claim_pairs(results):
        claims = check_claims(results, jepa, mae)
        lines.append(f"**At a glance: {jepa} against {mae}, the attentive probe**\n\n"
                     + "\n".join(f"- {c.claim}: **{c.verdict}**; ours {c.ours}" for c in claims))
    return "\n\n".join(lines) + "\n\n" if lines else ""


def recipes_figure():
    """(figure or None, caption): every committed evaluation's JEPA and MAE rows, clean EF against
    relative degradation (model_zoo.experiments.scoreboard); a message instead where they cannot be read."""
    try:
        fig, caption = scoreboard_figure(committed_rows(("jepa", "mae", "random", "pixels")), _shipped_models())
        ringed = any(t.name.startswith("shipped") for t in fig.data)
        return fig, f"**Every recipe tried.** {caption}" + (" The ringed points are the shipped pair the app runs."
                                                           if ringed else "")
    except (OSError, ValueError, KeyError) as e:
        return None, (f"The recipes' results could not be read ({type(e).__name__}: {e}); "
                      "`python -m model_zoo.experiments.scoreboard` names the file.")


def _shipped_models() -> dict:
    """model_zoo/results.json's models that can be placed on the recipes plot; {} where it cannot be read (the
    evidence table says why), so the plot of every recipe still shows."""
    try:
        models = json.loads(RESULTS.read_text())["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {n: m for n, m in models.items() if isinstance(m, dict) and isinstance(m.get("clean"), dict)
            and isinstance(m["clean"].get("mae"), (int, float)) and isinstance(m.get("mean_rel_degradation_pct"), (int, float))}


def card_markdown(model: LoadedModel) -> str:
    """A model's card in short: what it is, how it was trained, what it measured; for a checkpoint converted
    on load, where it came from and what the conversion assumed or left out."""
    card = model.wrapper.card
    if not card:
        return f"### {model.name}\nNo model card (a checkpoint loaded from a path)."
    if "conversion" in card:
        return f"### {model.name}\n" + _converted(card, model)
    facts = [
        ("method", f"{str(card.get('method', '?')).upper()}, recipe `{card.get('recipe', '?')}`"),
        ("architecture", card.get("architecture")),
        ("parameters shipped", _parameters(model, card.get("params_shipped"))),
        ("pretraining", _pretraining(card)),
        ("data", _data(card.get("data"))),
        ("measured", _measured(card.get("results") or {})),
        ("EF probes shipped", _probes(model, card.get("results") or {})),
        ("code", f"commit `{str(card['commit'])[:10]}`" if card.get("commit") else None),
    ]
    lines = [f"- **{k}**: {v}" for k, v in facts if v]
    if not model.at_own_frames:
        lines.insert(0, f"⚠️ {run_at_fewer_frames(model.frames_override)}: the figures below were measured at its "
                        "own count and do not describe it as it runs here.")
    return f"### {model.name}\n" + "\n".join(lines) + "\n\nThe whole card: `card.json` in the model's folder."


def _parameters(model: LoadedModel, count) -> str | None:
    """The card's parameter count, which is its training network's (encoder with predictor or decoder), and
    what else the folder ships: a JEPA's context encoder is a second encoder beside it, not in that count."""
    if not isinstance(count, int):
        return None
    head = "predictor" if model.family == "jepa" else "decoder"
    context = model.folder is not None and (Path(model.folder) / "context_encoder.safetensors").exists()
    return f"{count:,} (encoder and {head})" + ("; its context encoder, of the encoder's size, ships beside them"
                                                if context else "")


def _probes(model: LoadedModel, results: dict) -> str | None:
    """The EF probes beside the encoder, each with its own phantom test error (as the Predictions tab gives it)."""
    def words(name: str, probe, benchmark) -> str:
        return f"{name}: {probe_test_words(probe, benchmark) or 'no recorded test error'}"
    probes = [words("the attentive probe", model.probe, results) if model.probe else "",
              words("the beat view's probe", model.beat_probe, results.get("beat_probe")) if model.beat_probe else ""]
    return "; ".join(p for p in probes if p) or None


def _converted(card: dict, model: LoadedModel) -> str:
    """The facts model_zoo.load records for a checkpoint without a card (card['conversion']), those export kept, and
    the EF probe attached, with the EF scale given for it (an export's --ef-mean / --ef-std make its EFs)."""
    info = card.get("conversion") or {}
    notes, assumed = info.get("notes") or [], assumed_notes(card)
    how = ("converted once by model_zoo.convert.export" if card.get("exported_by") else
           "a Hugging Face folder without an EchoLens card" if card.get("format") == "hf-folder" else "converted on load")
    facts = [("loaded from", f"`{card.get('source')}` ({card.get('format')}), {how}"),
             ("architecture", card.get("architecture")),
             ("assumed", "; ".join(assumed) or "nothing: the files say it all"),
             ("notes", "; ".join(n for n in notes if n not in assumed) or None),
             ("left out", ", ".join(info.get("ignored") or []) or None),
             ("missing weights (random)", ", ".join(info.get("missing") or []) or None),
             ("unexpected weights (unused)", ", ".join(info.get("unexpected") or []) or None),
             ("EF probe", _attached_probe(model.probe))]
    said = ("Exported, not evaluated" if card.get("exported_by") else "No EchoLens card")
    return ("\n".join(f"- **{k}**: {v}" for k, v in facts if v)
            + f"\n\n{said}: nothing here was measured on the phantom benchmark.")


def _attached_probe(probe) -> str:
    """A converted or exported model's EF probe in words: where it came from and the EF scale its outputs are read on."""
    if probe is None:
        return "none attached (no EF is read)"
    meta = getattr(probe, "meta", None) or {}
    source = f"from `{meta['source']}`" if meta.get("source") else "attached at load"
    return (f"{meta.get('converted_from', 'a probe')} {source}, its outputs read as EF mean "
            f"{probe.ef_mean.item():.2f} + std {probe.ef_std.item():.2f} x output (the scale given with it: a wrong "
            "one moves every EF); no test error recorded")


def _pretraining(card: dict) -> str | None:
    if not (card.get("steps") and card.get("wall_time_s")):
        return None
    return (f"{card['steps']:,} steps, peak learning rate {card.get('peak_lr')}, seed {card.get('seed')}, "
            f"{card['wall_time_s'] / 60:.0f} minutes of training")


def _data(data) -> str | None:
    """What the model learned from, in words (the card's 'data' names the modules that rendered it)."""
    if not isinstance(data, dict) or not data:
        return None
    source = str(data.get("source", ""))
    text = ("simulated phantom clips, one heartbeat each" if "phantom" in source.lower() else source)
    text += f"; {data.get('population', '')} hearts"
    seeds = data.get("clip_seeds")
    if isinstance(seeds, list) and len(seeds) == 2:
        text += f", clip seeds {seeds[0]:,}..{seeds[1]:,}"
    return text


def _measured(results: dict) -> str | None:
    """The benchmark's headline for one model: clean EF MAE, mean relative degradation, pediatric."""
    clean = results.get("clean") or {}
    if clean.get("mae") is None:
        return None
    text = f"clean EF mean absolute error {plus_minus(clean['mae'], clean.get('mae_std'))}"     # not the MAE model
    if results.get("mean_rel_degradation_pct") is not None:
        degradation = plus_minus(results["mean_rel_degradation_pct"], results.get("mean_rel_degradation_pct_std"), 1,
                                 signed=True)
        text += f", mean relative degradation {degradation}% (the six benchmark conditions)"
    ped = results.get("pediatric") or {}
    if ped.get("mae") is not None:
        text += f", pediatric zero-shot {plus_minus(ped['mae'], ped.get('mae_std'))}"
    return text + " (the table below)"
