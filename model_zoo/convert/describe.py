"""One line about a checkpoint file for the model list: its format and architecture, read from key
names and tensor shapes only (safetensors headers, memory-mapped torch archives), no model built."""
from __future__ import annotations

from pathlib import Path

import torch

from model_zoo.convert import videomae, vjepa
from model_zoo.convert.detect import detect_state
from model_zoo.convert.infer import need
from model_zoo.convert.probe import classifier_state
from model_zoo.convert.safety import MAX_BYTES, check_size, header_shapes, load_tensors


def _shapes(path: Path, max_bytes: int) -> dict:
    """The checkpoint with safetensors tensors as empty meta tensors of the right shape (header only)."""
    if path.name.endswith(".safetensors"):
        check_size(path, max_bytes)
        return {k: torch.empty(shape, device="meta") for k, shape in header_shapes(path).items()}
    return load_tensors(path, max_bytes)


def describe_file(path: str | Path, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """(format, architecture line). ValueError if the file is unreadable or of no known layout."""
    from model_zoo.registry import architecture          # registry imports this module
    path = Path(path)
    ckpt = _shapes(path, max_bytes)
    fmt = detect_state(ckpt)
    if fmt == "vjepa1-native":
        return fmt, "refused: a stored 3D sin-cos pos_embed (V-JEPA 1); VJEPA2Model is RoPE-only"
    if fmt == "vjepa-probe":
        state = classifier_state(ckpt)
        q, lin = need(state, "pooler.query_tokens", "attentive probe"), state.get("linear.weight")
        blocks = len({k.split(".")[2] for k in state if k.startswith("pooler.blocks.")})
        outs = lin.shape[0] if lin is not None else "?"
        return fmt, f"attentive probe {q.shape[-1]}d, {q.shape[1]} query, {blocks} extra blocks, {outs} outputs"
    try:
        if fmt == "videomae-native":
            config, _ = videomae.make_config(videomae.encoder_state(ckpt), {})
        else:
            _, pred, _ = vjepa.predictor_shape(ckpt)
            config, _ = vjepa.make_config(vjepa.encoder_shape(vjepa.pick_encoder(ckpt, "target")[0]), pred, {})
    except ValueError as e:                  # e.g. a width with no standard head count: say so, keep the format
        return fmt, f"needs overrides: {e}"
    return fmt, architecture(config.to_dict()) + " (frames, size, heads assumed)"
