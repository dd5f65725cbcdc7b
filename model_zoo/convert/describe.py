"""One line about a checkpoint file for the model list: its format and architecture, read from key
names and tensor shapes only (safetensors headers, memory-mapped torch archives), no model built."""
from __future__ import annotations

from pathlib import Path

from model_zoo.convert import videomae, vjepa
from model_zoo.convert.detect import read_native
from model_zoo.convert.probe import classifier_state, query_tokens
from model_zoo.convert.safety import MAX_BYTES


def describe_file(path: str | Path, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """(format, architecture line), the file read as model_zoo.convert.load_checkpoint reads it (read_native), its
    config made as conversion makes it, so the list says what a load gives. ValueError if the file is unreadable or
    of no known layout."""
    from model_zoo.registry import architecture, assumed_mark          # registry imports this module
    ckpt, _, fmt = read_native(Path(path), max_bytes, shapes_only=True)
    if fmt == "vjepa1-native":
        return fmt, "refused: a stored 3D sin-cos pos_embed (V-JEPA 1); VJEPA2Model is RoPE-only"
    if fmt == "vjepa-probe":
        state = classifier_state(ckpt)
        q, lin = query_tokens(state), state.get("linear.weight")
        blocks = len({k.split(".")[2] for k in state if k.startswith("pooler.blocks.")})
        outs = lin.shape[0] if lin is not None else "?"
        return fmt, f"attentive probe {q.shape[-1]}d, {q.shape[1]} query, {blocks} extra blocks, {outs} outputs"
    try:
        if fmt == "videomae-native":
            config, notes = videomae.make_config(videomae.encoder_state(ckpt), {}, videomae.training_args(ckpt))
        else:
            _, pred, _ = vjepa.predictor_shape(ckpt)
            config, notes = vjepa.make_config(vjepa.encoder_shape(vjepa.pick_encoder(ckpt, "target")[0]), pred, {})
    except ValueError as e:                  # e.g. a width with no standard head count: say so, keep the format
        return fmt, f"needs overrides: {e}"
    return fmt, architecture(config.to_dict()) + assumed_mark(notes)
