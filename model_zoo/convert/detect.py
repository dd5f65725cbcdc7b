"""Which checkpoint format a path holds, from its layout and key names (never from its file name alone)."""
from __future__ import annotations

from pathlib import Path

from model_zoo.convert import probe, videomae, vjepa
from model_zoo.convert.infer import strip_prefixes

FORMATS = {
    "hf-folder": "Hugging Face folder (config.json + weights)",
    "vjepa2-native": "V-JEPA 2 / EchoJEPA native checkpoint (RoPE)",
    "vjepa1-native": "V-JEPA 1 native checkpoint (3D sin-cos pos_embed): refused",
    "videomae-native": "VideoMAE native checkpoint (MCG-NJU)",
    "vjepa-probe": "V-JEPA evaluation probe (attentive classifier)",
}
SUFFIXES = (".pt", ".pth", ".pth.tar", ".safetensors", ".bin", ".ckpt")


def is_checkpoint_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SUFFIXES)


def detect_state(ckpt: dict) -> str:
    """The format of a loaded checkpoint dict; ValueError naming its top-level keys if none fits."""
    if probe.is_probe(ckpt):
        return "vjepa-probe"
    if videomae.is_native(ckpt):
        return "videomae-native"
    if vjepa.is_native(ckpt):
        state = vjepa.pick_encoder(ckpt, "target")[0]
        return "vjepa1-native" if "pos_embed" in state else "vjepa2-native"
    keys = list(ckpt)[:8]
    if any(str(k).startswith(("encoder.embeddings.", "videomae.", "vjepa2.")) for k in keys) or \
            any(str(k).startswith(("encoder.layer.",)) for k in strip_prefixes(ckpt) if isinstance(k, str)):
        raise ValueError("this is a Hugging Face state dict without its config.json: put it in a folder beside "
                         "the config.json it was saved with, and load the folder")
    raise ValueError(f"unrecognised checkpoint layout (top-level keys: {', '.join(map(str, keys))}); EchoLens reads "
                     "HF folders and V-JEPA 2 / EchoJEPA, VideoMAE and V-JEPA probe checkpoints")
