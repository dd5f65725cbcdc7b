"""Which checkpoint format a path holds, from its layout and key names (never from its file name alone)."""
from __future__ import annotations

from pathlib import Path

import torch

from model_zoo.convert import probe, videomae, vjepa
from model_zoo.convert.infer import strip_prefixes
from model_zoo.convert.safety import MAX_BYTES, SAFETENSORS, check_size, header_shapes, load_tensors

SUFFIXES = (".pth.tar", ".safetensors", ".pth", ".pt", ".bin", ".ckpt")   # longest first: a.pth.tar is 'a'
# key prefixes only transformers' VideoMAE and V-JEPA 2 models write (encoder, pretraining decoder, classification
# models' wrapped encoder): a state dict holding any is one of theirs, saved without its config.json
HF_PREFIXES = ("videomae.", "vjepa2.", "encoder.layer.", "encoder.embeddings.", "decoder.decoder_layers.")


def is_checkpoint_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SUFFIXES)


def checkpoint_name(path: Path) -> str:
    """The file's name without its checkpoint suffix ('vitl.pth.tar' -> 'vitl')."""
    name = path.name
    return next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)


def unwrap_lightning(ckpt: dict) -> tuple[dict, str | None]:
    """A PyTorch Lightning checkpoint's state dict ('state_dict' beside 'pytorch-lightning_version'), less the
    attribute prefix every key shares (the LightningModule's name for the network, 'model.' or 'net.'), with a note
    saying so; any other checkpoint as it is, and None."""
    state = ckpt.get("state_dict")
    if "pytorch-lightning_version" not in ckpt or not isinstance(state, dict) or not state:
        return ckpt, None
    heads = {str(k).split(".", 1)[0] for k in state}
    prefix = f"{heads.pop()}." if len(heads) == 1 and all("." in str(k) for k in state) else ""
    state = {str(k)[len(prefix):]: v for k, v in state.items()}
    return state, f"a PyTorch Lightning checkpoint: its state_dict read{f', prefix {prefix!r} removed' if prefix else ''}"


def detect_state(ckpt: dict) -> str:
    """The format of a loaded checkpoint dict; ValueError naming its top-level keys if none fits."""
    if probe.is_probe(ckpt):
        return "vjepa-probe"
    if videomae.is_native(ckpt):
        return "videomae-native"
    if vjepa.is_native(ckpt):
        state = vjepa.pick_encoder(ckpt, "target")[0]
        return "vjepa1-native" if "pos_embed" in state else "vjepa2-native"
    if any(k.startswith(HF_PREFIXES) for k in strip_prefixes(ckpt)):   # every key: safetensors' come sorted
        raise ValueError("this is a Hugging Face state dict without its config.json: put it in a folder beside "
                         "the config.json it was saved with, and load the folder")
    keys = ", ".join(map(str, list(ckpt)[:8]))
    raise ValueError(f"unrecognised checkpoint layout (top-level keys: {keys}); EchoLens reads "
                     "HF folders and V-JEPA 2 / EchoJEPA, VideoMAE and V-JEPA probe checkpoints")


def read_native(path: Path, max_bytes: int = MAX_BYTES,
                shapes_only: bool = False) -> tuple[dict, str | None, str]:
    """(checkpoint, note, format) of a checkpoint file, read one way for loading and for the model list: a PyTorch
    Lightning checkpoint's state dict unwrapped (note says so; None otherwise), its format detected (ValueError if
    none fits). shapes_only (the list, which must stay quick) reads a safetensors file's header alone, its tensors
    empty meta tensors of the right shapes; torch files are read as loading reads them (zip archives memory-mapped)."""
    if shapes_only and path.name.endswith(SAFETENSORS):
        check_size(path, max_bytes)
        ckpt = {k: torch.empty(shape, device="meta") for k, shape in header_shapes(path).items()}
    else:
        ckpt = load_tensors(path, max_bytes)
    ckpt, note = unwrap_lightning(ckpt)
    return ckpt, note, detect_state(ckpt)
