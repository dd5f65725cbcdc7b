"""Model folders and training state on disk, loaded safely (safetensors; torch.load weights_only).

A model folder is a Hugging Face folder (config.json + model.safetensors, via save_pretrained) plus
card.json. JEPA folders hold a `VJEPA2Model` whose encoder is the EMA target encoder, and the
context encoder in context_encoder.safetensors (float16: it is only inspected, and halving it keeps
the folder small); a JEPA trained on centred targets also holds target_mean.safetensors, the mean
target its predictor predicts around (model_zoo.target_mean). MAE folders hold the whole
`VideoMAEForPreTraining`, decoder included.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from transformers.utils import logging as hf_logging

CARD = "card.json"
CONTEXT_ENCODER = "context_encoder.safetensors"
TARGET_MEAN = "target_mean.safetensors"
FAMILIES = {"vjepa2": "jepa", "videomae": "mae"}


class NoContextEncoder(ValueError):
    """A JEPA asked for its context encoder has none (a folder or checkpoint with the target encoder alone): a
    view that can go on without it catches this, and every other failure to read one (a damaged file) is said."""


def export(model: nn.Module, folder: str | Path, card: dict) -> Path:
    """Write a JEPA or MAE training module's shipped parts and its card to folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()          # no "Writing model shards" bar under training's own
    try:
        model.net.save_pretrained(folder)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if model.family == "jepa":
        (folder / TARGET_MEAN).unlink(missing_ok=True)   # measured from the weights just replaced
        state = {k: v.detach().to("cpu", torch.float16).contiguous()
                 for k, v in model.context_encoder.state_dict().items()}
        save_file(state, str(folder / CONTEXT_ENCODER))
    (folder / CARD).write_text(json.dumps(card, indent=1))
    return folder


def read_json(path: str | Path, required: tuple[str, ...] = ()) -> dict:
    """A JSON object from a file (a card, a config, a reference beside a model); ValueError naming the file
    when it is not valid JSON, not an object, or lacks a `required` key. A missing file: FileNotFoundError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); copy it again from its source.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not the object (keys and values) expected.")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(map(repr, missing))}: it is incomplete or not the file expected here.")
    return data


def read_config(folder: str | Path) -> dict:
    return read_json(Path(folder) / "config.json", required=("model_type",))


def read_card(folder: str | Path) -> dict | None:
    """A model folder's card.json (None where there is none), refused by name where a field the app shows is not of
    its kind (check_card)."""
    path = Path(folder) / CARD
    return check_card(read_json(path), path) if path.exists() else None


# Card fields the app shows, by kind: a card edited by hand, or written by another tool, is refused naming the field
# (a text 'steps' gave "Cannot specify ',' with 's'." when the model card was drawn, naming nothing)
CARD_NUMBERS = ("steps", "planned_steps", "wall_time_s", "seed", "peak_lr", "params_shipped", "size_mb")
CARD_OBJECTS = ("data", "recipe_settings", "results", "collapse_check")
RESULT_BLOCKS = ("beat_probe", "linear_probe")      # each read as results is (the shipped probes' own: numbers)
RESULT_METRICS = ("clean", "pediatric")              # {metric: number}; 'degraded': {condition: {metric: number}}


def check_card(card: dict, path: Path) -> dict:
    """The card, once every field the app shows is of its kind: numbers (CARD_NUMBERS), objects (CARD_OBJECTS), and
    in results and each of its RESULT_BLOCKS, metrics as numbers; else ValueError naming the file and the field."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def refuse(field: str, value, kind: str):
        raise ValueError(f"{path}: '{field}' is {json.dumps(value)[:60]}, not {kind}; the card was edited or written "
                         "by another tool. Put back the value it was written with, or remove card.json to load the "
                         "model without its recorded figures.")
    for key in CARD_NUMBERS:
        if card.get(key) is not None and not number(card[key]):
            refuse(key, card[key], "a number")
    for key in CARD_OBJECTS:
        if card.get(key) is not None and not isinstance(card[key], dict):
            refuse(key, card[key], "an object")
    results = card.get("results") or {}
    blocks = [("results", results)] + [(f"results.{k}", results[k]) for k in RESULT_BLOCKS if results.get(k) is not None]
    for where, block in blocks:
        if not isinstance(block, dict):
            refuse(where, block, "an object")
        metrics = [(f"{where}.{k}", block[k]) for k in RESULT_METRICS if block.get(k) is not None]
        degraded = block.get("degraded")
        if degraded is not None and not isinstance(degraded, dict):
            refuse(f"{where}.degraded", degraded, "an object")
        metrics += [(f"{where}.degraded.{k}", v) for k, v in (degraded or {}).items()]
        for field, values in metrics:
            if not isinstance(values, dict):
                refuse(field, values, "an object of numbers (mae, rmse, r2...)")
            for k, v in values.items():
                if v is not None and not number(v):
                    refuse(f"{field}.{k}", v, "a number")
        for k in ("mean_rel_degradation_pct", "mean_rel_degradation_pct_std"):
            if block.get(k) is not None and not number(block[k]):
                refuse(f"{where}.{k}", block[k], "a number")
    return card


def family_of(config: dict) -> str:
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise ValueError(f"unsupported model type {model_type!r}; EchoLens loads {', '.join(FAMILIES)}")
    return FAMILIES[model_type]


def load_nets(folder: str | Path) -> tuple[str, nn.Module, nn.Module | None]:
    """(family, net, context encoder or None) from a model folder, on the CPU, in eval mode.

    net: `VJEPA2Model` for JEPA; `VideoMAEForPreTraining` for MAE when the folder holds one (decoder
    included), else `VideoMAEModel` (an encoder-only VideoMAE checkpoint). Missing or unexpected
    keys refuse the load (model_zoo.convert.hf).
    """
    from model_zoo.convert.hf import load_folder          # hf reads this module's names
    return load_folder(folder)[:3]


def save_state(path: str | Path, state: dict) -> None:
    """Training state (tensors, numbers, strings only) written atomically: a failed write (a state that cannot be
    pickled, a full disk, an interrupt) leaves the last good state and no temporary file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
