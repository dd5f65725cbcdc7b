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
    path = Path(folder) / CARD
    return read_json(path) if path.exists() else None


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
    """Training state (tensors, numbers, strings only) written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
