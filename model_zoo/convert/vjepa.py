"""V-JEPA 2 / EchoJEPA native checkpoints (`.pt`) -> transformers `VJEPA2Model`, in memory.

Native layout (facebookresearch/vjepa2, app/vjepa/train.py): a dict with `encoder`, `target_encoder`,
`predictor`, `opt`, `epoch`, ...; keys carry `module.backbone.`. Encoder keys `patch_embed.proj`
(Conv3d), `blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`; predictor keys
`predictor_embed`, `mask_tokens.K`, `predictor_blocks.N.*`, `predictor_norm`, `predictor_proj`.
The mapping follows transformers' convert_vjepa2_to_hf.py: the fused qkv (3D, D) is split in
order q, k, v, `blocks.` -> `layer.`, `norm.` -> `layernorm.`. RoPE has no tensors: positions come
from the grid (frames, size), which is not stored, so they default to 16 x 224 (EchoJEPA) and
are reported as assumed.

V-JEPA 1 (and non-RoPE V-JEPA 2) encoders add a stored 3D sin-cos `pos_embed`; VJEPA2Model applies
RoPE in every layer and has no absolute positions, so such a checkpoint is refused rather than
loaded wrong.
"""
from __future__ import annotations

import re

import torch
from torch import nn
from transformers import VJEPA2Config, VJEPA2Model
from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder

from model_zoo.checkpoint import NoContextEncoder
from model_zoo.convert.infer import (DTYPE, block_count, check_overrides, check_whole_tokens, heads_for, load_checked,
                                     mlp_ratio, need, patch_conv, split_qkv, strip_prefixes)

DEFAULT_FRAMES, DEFAULT_SIZE = 16, 224
ENCODER_KEYS = {"target": "target_encoder", "context": "encoder"}
_BLOCK = {"norm1": "norm1", "attn.proj": "attention.proj", "norm2": "norm2", "mlp.fc1": "mlp.fc1",
          "mlp.fc2": "mlp.fc2"}


class MissingPredictor(nn.Module):
    """Stands in for a predictor the checkpoint lacks: any use raises a ValueError saying why."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason

    @property
    def embeddings(self):
        raise ValueError(f"no JEPA predictor to predict latents with: {self.reason}")

    def forward(self, *args, **kwargs):
        raise ValueError(f"no JEPA predictor to predict latents with: {self.reason}")


def is_native(ckpt: dict) -> bool:
    """A V-JEPA training checkpoint, or a bare V-JEPA encoder state dict."""
    if any(k in ckpt for k in ("encoder", "target_encoder")) and isinstance(ckpt.get("encoder", ckpt.get("target_encoder")), dict):
        return True
    keys = strip_prefixes(ckpt) if all(isinstance(v, torch.Tensor) for v in ckpt.values()) else {}
    return "patch_embed.proj.weight" in keys and any(k.endswith("attn.qkv.weight") for k in keys)


def pick_encoder(ckpt: dict, encoder: str) -> tuple[dict, str, list[str]]:
    """(stripped encoder state, where it came from, notes). Bare state dicts are the encoder itself."""
    if encoder not in ENCODER_KEYS:
        raise ValueError("encoder must be 'target' or 'context'")
    if not any(k in ckpt for k in ENCODER_KEYS.values()):
        return strip_prefixes(ckpt), "state dict", []
    key = ENCODER_KEYS[encoder]
    if key in ckpt:
        return strip_prefixes(ckpt[key], f"the checkpoint's {key!r}"), key, []
    other = ENCODER_KEYS["context" if encoder == "target" else "target"]
    return (strip_prefixes(ckpt[other], f"the checkpoint's {other!r}"), other,
            [f"no {key!r} in the checkpoint; using {other!r}"])


def encoder_shape(state: dict, overrides: dict | None = None) -> dict:
    """width, depth, patch, tubelet, channels, MLP hidden size and qkv bias, read off the tensors; a patch or tubelet
    in overrides that contradicts them is refused."""
    if "pos_embed" in state:
        n = tuple(state["pos_embed"].shape)
        raise ValueError(f"this encoder stores a 3D sin-cos pos_embed {n} (V-JEPA 1, or V-JEPA 2 without RoPE); "
                         "transformers' VJEPA2Model applies RoPE in every layer and has no absolute positions, so "
                         "EchoLens refuses it rather than load it wrong")
    if "blocks.0.mlp.fc3.weight" in state:
        raise ValueError("this encoder uses a SwiGLU MLP (mlp.fc3), which VJEPA2Model does not implement")
    width, chans, tubelet, patch = patch_conv(state, "V-JEPA encoder", overrides or {})
    return {"width": width, "channels": chans, "tubelet": tubelet, "patch": patch,
            "depth": block_count(state, "blocks."),
            "mlp_hidden": need(state, "blocks.0.mlp.fc1.weight", "V-JEPA encoder").shape[0],
            "qkv_bias": "blocks.0.attn.qkv.bias" in state}


def _blocks(state: dict, src: str, dst: str, width: int) -> dict:
    """Native blocks under src -> HF VJEPA2Layer keys under dst; unknown keys kept (reported later)."""
    out = {}
    for key, value in state.items():
        m = re.match(re.escape(src) + r"(\d+)\.(.+)\.(weight|bias)$", key)
        if not m:
            continue
        i, part, kind = m.groups()
        if part == "attn.qkv":
            if kind == "bias":
                continue                                   # split with the weight below
            parts = split_qkv(value, state.get(f"{src}{i}.attn.qkv.bias"), width, key)
            for name, (w, b) in zip(("query", "key", "value"), parts):
                out[f"{dst}{i}.attention.{name}.weight"] = w
                if b is not None:
                    out[f"{dst}{i}.attention.{name}.bias"] = b
        else:
            out[f"{dst}{i}.{_BLOCK.get(part, part)}.{kind}"] = value
    return out


def encoder_state(state: dict, width: int) -> dict:
    """Native encoder state -> `VJEPA2Encoder` state dict."""
    out = _blocks(state, "blocks.", "layer.", width)
    rest = {k: v for k, v in state.items() if not re.match(r"blocks\.\d+\.", k)}
    for key, value in rest.items():
        key = key.replace("patch_embed.proj.", "embeddings.patch_embeddings.proj.")
        out[re.sub(r"^norm\.", "layernorm.", key)] = value
    return out


def predictor_state(state: dict, width: int) -> dict:
    """Native predictor state -> `VJEPA2Predictor` state dict (mask tokens stacked (K, 1, 1, P))."""
    out = _blocks(state, "predictor_blocks.", "layer.", width)
    tokens = sorted((int(k.split(".")[1]), v) for k, v in state.items() if re.fullmatch(r"mask_tokens\.\d+", k))
    if tokens:
        out["embeddings.mask_tokens"] = torch.stack([v.reshape(1, 1, -1) for _, v in tokens])
    names = {"predictor_embed.": "embeddings.predictor_embeddings.", "predictor_norm.": "layernorm.",
             "predictor_proj.": "proj."}
    for key, value in state.items():
        if re.match(r"(predictor_blocks\.\d+\.|mask_tokens\.\d+$)", key):
            continue
        for a, b in names.items():
            key = key.replace(a, b) if key.startswith(a) else key
        out[key] = value
    return out


def predictor_shape(ckpt: dict) -> tuple[dict | None, dict | None, str]:
    """(stripped predictor state, its shape, reason if unusable). A predictor saved as None is none."""
    if ckpt.get("predictor") is None:
        return None, None, "the checkpoint has no 'predictor'"
    state = strip_prefixes(ckpt["predictor"], "the checkpoint's 'predictor'")
    if "predictor_pos_embed" in state:
        return None, None, "its predictor stores absolute positions (predictor_pos_embed), not RoPE"
    if not any(re.fullmatch(r"mask_tokens\.\d+", k) for k in state):
        return None, None, "its predictor has no mask tokens"
    embed = state.get("predictor_embed.weight")
    if embed is None or "predictor_blocks.0.mlp.fc1.weight" not in state:
        return None, None, "its predictor keys are not V-JEPA 2's (predictor_embed, predictor_blocks)"
    return state, {"width": embed.shape[0], "depth": block_count(state, "predictor_blocks."),
                   "mlp_hidden": state["predictor_blocks.0.mlp.fc1.weight"].shape[0],
                   "mask_tokens": sum(bool(re.fullmatch(r"mask_tokens\.\d+", k)) for k in state)}, ""


def make_config(shape: dict, pred: dict | None, overrides: dict) -> tuple[VJEPA2Config, list[str]]:
    """VJEPA2Config from tensor shapes plus overrides; notes say what was assumed."""
    notes = []
    frames = overrides.get("frames", DEFAULT_FRAMES)
    size = overrides.get("size", DEFAULT_SIZE)
    for key, default in (("frames", DEFAULT_FRAMES), ("size", DEFAULT_SIZE)):
        if key not in overrides:
            notes.append(f"{key} {default} assumed (RoPE stores no grid; export the checkpoint with --{key} N, or "
                         f"load it with overrides={{'{key}': N}})")
    check_whole_tokens(frames, size, shape["patch"], shape["tubelet"], "the checkpoint")
    heads = heads_for(shape["width"], overrides.get("heads"))
    if "heads" not in overrides:
        notes.append(f"{heads} heads assumed for width {shape['width']}")
    kwargs = {}
    if pred:
        default = 12 if pred["width"] == 384 else heads if pred["width"] % heads == 0 else None
        pred_heads = heads_for(pred["width"], overrides.get("pred_heads") or default, "pred_heads")
        if "pred_heads" not in overrides:
            notes.append(f"{pred_heads} predictor heads assumed for width {pred['width']}")
        kwargs = {"pred_hidden_size": pred["width"], "pred_num_hidden_layers": pred["depth"],
                  "pred_num_attention_heads": pred_heads, "pred_mlp_ratio": mlp_ratio(pred["mlp_hidden"], pred["width"]),
                  "pred_num_mask_tokens": pred["mask_tokens"]}
    else:
        kwargs = {"pred_hidden_size": 32, "pred_num_hidden_layers": 0, "pred_num_attention_heads": 1,
                  "pred_num_mask_tokens": 1}                  # no predictor: replaced by MissingPredictor
    config = VJEPA2Config(
        crop_size=size, frames_per_clip=frames, patch_size=shape["patch"], tubelet_size=shape["tubelet"],
        in_chans=shape["channels"], hidden_size=shape["width"], num_hidden_layers=shape["depth"],
        num_attention_heads=heads, mlp_ratio=mlp_ratio(shape["mlp_hidden"], shape["width"]),
        qkv_bias=shape["qkv_bias"], layer_norm_eps=overrides.get("layer_norm_eps", 1e-6), **kwargs)
    return config, notes


def convert(ckpt: dict, encoder: str = "target", overrides: dict | None = None, strict: bool = True
            ) -> tuple[VJEPA2Model, nn.Module | None, dict]:
    """(net, context encoder or None, info) from a native V-JEPA 2 checkpoint dict.

    net.encoder holds the target encoder (or the only one there is); with encoder='context' the
    context encoder (`encoder` key) is converted too. info: source key, notes, missing/unexpected.
    """
    overrides = check_overrides(overrides)
    state, source, notes = pick_encoder(ckpt, "target")
    shape = encoder_shape(state, overrides)
    pred_state, pred, reason = predictor_shape(ckpt)
    config, assumed = make_config(shape, pred, overrides)
    net = VJEPA2Model._from_config(config, attn_implementation="sdpa", dtype=DTYPE)   # any stored dtype -> float32
    report = load_checked(net.encoder, encoder_state(state, shape["width"]), f"encoder ({source})", strict)
    info = {"encoder_key": source, "notes": notes + assumed, "missing": report["missing"],
            "unexpected": report["unexpected"]}
    if pred_state is not None:
        pred_report = load_checked(net.predictor, predictor_state(pred_state, pred["width"]), "predictor", strict)
        info["missing"] += [f"predictor.{k}" for k in pred_report["missing"]]
        info["unexpected"] += [f"predictor.{k}" for k in pred_report["unexpected"]]
    else:
        net.predictor = MissingPredictor(reason)
        info["notes"].append(f"predict_latents unavailable: {reason}")
    context = None
    if encoder == "context":
        if "encoder" not in ckpt or "target_encoder" not in ckpt:
            raise NoContextEncoder("encoder='context' needs both 'encoder' and 'target_encoder' in the checkpoint")
        ctx_state = strip_prefixes(ckpt["encoder"], "the checkpoint's 'encoder'")
        context = VJEPA2Encoder(net.config)
        load_checked(context, encoder_state(ctx_state, shape["width"]), "context encoder ('encoder')", strict)
        context.eval()
    return net.eval(), context, info
