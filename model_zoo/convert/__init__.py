"""Real checkpoints from local paths, converted in memory to the transformers models EchoLens runs.

    from model_zoo.convert import load_checkpoint
    loaded = load_checkpoint("vitl.pt", encoder="target", overrides={"frames": 16, "size": 224})
    loaded.family, loaded.net, loaded.context, loaded.info

Formats (detect.py): HF folders (hf.py), V-JEPA 2 / EchoJEPA native `.pt` (vjepa.py; V-JEPA 1's
absolute pos_embed is refused), VideoMAE native `.pth` (videomae.py), V-JEPA evaluation probes
(probe.py). Files are read by safety.py only: safetensors or torch.load(weights_only=True), size-capped.
Every model comes back in float32 whatever dtype its file stores (infer.DTYPE): a float16 or bfloat16
checkpoint runs as a float32 one does, on the float32 clips the app feeds it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from model_zoo.convert import hf, videomae, vjepa
from model_zoo.convert.detect import read_native
from model_zoo.convert.safety import MAX_BYTES


@dataclass
class Loaded:
    family: str                      # 'jepa' | 'mae'
    net: nn.Module                   # VJEPA2Model | VideoMAEForPreTraining | VideoMAEModel
    context: nn.Module | None        # JEPA context encoder: a folder's whenever it holds one (the predictor's
                                     # views use it); a native checkpoint's only when encoder='context' asked for it
    format: str                      # 'hf-folder', 'vjepa2-native' (V-JEPA 2 / EchoJEPA), 'videomae-native' (MCG-NJU)
    info: dict = field(default_factory=dict)   # notes (assumptions), missing / unexpected / ignored keys


def load_checkpoint(path: str | Path, encoder: str = "target", overrides: dict | None = None,
                    strict: bool = True, max_bytes: int = MAX_BYTES) -> Loaded:
    """Any supported checkpoint file or HF folder, converted, in float32. Raises ValueError saying why it can't."""
    path = Path(path)
    if hf.is_folder(path):
        family, net, context, info = hf.load_folder(path, overrides, strict, max_bytes)
        return Loaded(family, net, context, "hf-folder", info)
    if path.is_dir():
        raise FileNotFoundError(f"{path} is a folder without config.json: not a model folder")
    ckpt, unwrapped, fmt = read_native(path, max_bytes)
    if fmt == "vjepa-probe":
        raise ValueError(f"{path.name} is a V-JEPA evaluation probe, not an encoder: give it with the encoder it was "
                         f"trained on, `python -m model_zoo.convert.export ENCODER --out FOLDER --probe {path.name} "
                         "--ef-mean M --ef-std S`, and load FOLDER (in Python: load(ENCODER, probe=path))")
    if fmt == "videomae-native":
        (net, info), family, context = videomae.convert(ckpt, overrides, strict), "mae", None
    else:
        net, context, info = vjepa.convert(ckpt, encoder, overrides, strict)   # vjepa1 raises inside
        family = "jepa"
    if unwrapped:
        info["notes"] = [unwrapped, *info.get("notes", [])]
    return Loaded(family, net, context, fmt, info)
