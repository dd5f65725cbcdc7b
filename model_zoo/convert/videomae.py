"""VideoMAE native checkpoints (MCG-NJU `.pth`) -> transformers VideoMAE, in memory.

Native layout: `{'model': state_dict, ...}` (or `module`). Pretraining checkpoints hold
`encoder.patch_embed.proj`, `encoder.blocks.N.{norm1, attn.qkv, attn.q_bias, attn.v_bias, attn.proj,
norm2, mlp.fc1, mlp.fc2}`, `encoder.norm`, `encoder_to_decoder`, `mask_token`, `decoder.blocks.N.*`,
`decoder.norm`, `decoder.head`; fine-tuned ones hold the encoder without `encoder.` plus `fc_norm`
and a classification `head` (ignored here). The fused qkv has no bias; q_bias/v_bias become
query.bias/value.bias and the key has none, as in transformers' convert_videomae_to_pytorch.py.
The sinusoid position table is not stored: transformers regenerates the same one from the grid.
"""
from __future__ import annotations

import argparse
import re

from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEModel

from model_zoo.convert.infer import (DTYPE, MAX_SIZES, block_count, check_overrides, check_whole_tokens, heads_for,
                                     load_checked, need, patch_conv, split_qkv, strip_prefixes)

DEFAULT_FRAMES, DEFAULT_SIZE = 16, 224
TRAINING_ARGS = {"frames": "num_frames", "size": "input_size"}      # VideoMAE's run_mae_pretraining.py names
# VideoMAE's pretraining decoders (modeling_pretrain.py: small, base, large, huge), width -> heads; ViT-H's 640-wide
# decoder has 8, where 64-wide heads would give 10
DECODER_HEADS = {192: 3, 384: 6, 512: 8, 640: 8}
VIDEOMAE_HEADS = {1408: 16}        # VideoMAE V2's vit_giant_patch14_224 (V-JEPA 2's giant, as wide, has 22)
IGNORED = ("head.", "fc_norm.")                 # a fine-tuned classifier's head: not part of the encoder
_BLOCK = {"norm1": "layernorm_before", "attn.proj": "attention.output.dense", "norm2": "layernorm_after",
          "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}


def model_state(ckpt: dict) -> dict:
    """The state dict inside a native checkpoint (`model`, `module`, or the dict itself), prefixes stripped."""
    for key in ("model", "module"):
        if isinstance(ckpt.get(key), dict):
            return strip_prefixes(ckpt[key])
    return strip_prefixes(ckpt)


def is_native(ckpt: dict) -> bool:
    """MCG-NJU VideoMAE: blocks with q_bias/v_bias, or the pretraining `encoder.` / `decoder.` layout."""
    state = model_state(ckpt)
    return any(k.endswith("attn.q_bias") for k in state) or "encoder.patch_embed.proj.weight" in state


def _blocks(state: dict, src: str, dst: str, width: int) -> dict:
    out = {}
    for key, value in state.items():
        m = re.match(re.escape(src) + r"(\d+)\.(.+)$", key)
        if not m:
            continue
        i, part = m.groups()
        base = f"{dst}{i}.attention.attention."
        if part == "attn.qkv.weight":
            for name, (w, _) in zip(("query", "key", "value"), split_qkv(value, None, width, key)):
                out[f"{base}{name}.weight"] = w
        elif part in ("attn.q_bias", "attn.v_bias"):
            out[f"{base}{'query' if part == 'attn.q_bias' else 'value'}.bias"] = value
        elif part == "attn.qkv.bias":
            q, _, v = value.split(width)        # a key bias only shifts each query's scores: softmax drops it
            out[f"{base}query.bias"], out[f"{base}value.bias"] = q, v
        else:
            name, kind = part.rsplit(".", 1)
            out[f"{dst}{i}.{_BLOCK.get(name, name)}.{kind}"] = value
    return out


def convert_state(state: dict, width: int, dec_width: int | None, pretraining: bool) -> tuple[dict, list[str]]:
    """Native (stripped, `encoder.` removed) state -> HF keys; returns (state, ignored keys)."""
    enc = "videomae." if pretraining else ""
    out = _blocks(state, "blocks.", f"{enc}encoder.layer.", width)
    if dec_width:
        out.update(_blocks(state, "decoder.blocks.", "decoder.decoder_layers.", dec_width))
    ignored = []
    for key, value in state.items():
        if re.match(r"(decoder\.)?blocks\.\d+\.", key):
            continue
        if key.startswith(IGNORED):
            ignored.append(key)
        elif key.startswith("patch_embed.proj."):
            out[key.replace("patch_embed.proj.", f"{enc}embeddings.patch_embeddings.projection.")] = value
        elif key.startswith("norm."):
            out[f"{enc}layernorm." + key.split(".", 1)[1]] = value
        else:
            out[key] = value                     # encoder_to_decoder, mask_token, decoder.norm/head: same names
    return out, ignored


def encoder_state(ckpt: dict) -> dict:
    """The native state with the pretraining `encoder.` prefix removed (decoder keys keep `decoder.`)."""
    raw = model_state(ckpt)
    return {k[len("encoder."):] if k.startswith("encoder.") else k: v for k, v in raw.items()}


def training_args(ckpt: dict) -> dict:
    """{'frames', 'size'} as the checkpoint's saved training arguments give them ('args', an argparse.Namespace or
    a dict, as VideoMAE's save_model stores it), where each is a whole number within MAX_SIZES; {} without them."""
    args = ckpt.get("args")
    values = vars(args) if isinstance(args, argparse.Namespace) else args if isinstance(args, dict) else {}
    found = {key: values.get(name) for key, name in TRAINING_ARGS.items()}
    return {key: v for key, v in found.items()
            if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIZES[key]}


def check_trained_size(trained: int | None, size: int, where: str) -> None:
    """Refuse a VideoMAE at a crop size other than its training one: its sinusoid position table runs over the flat
    token index, so at another size each token would read another place's position (frames are safe: a frame's
    tokens keep their rows)."""
    if trained is not None and size != trained:
        raise ValueError(f"this VideoMAE was trained at {trained} px ({where}); its position table runs over the flat "
                         f"token index, so at {size} px each token would read another place's position: load it at "
                         f"{trained} px")


def make_config(state: dict, overrides: dict, known: dict | None = None) -> tuple[VideoMAEConfig, list[str]]:
    """VideoMAEConfig from tensor shapes plus overrides, then `known` (training_args); notes say what was read
    from the training arguments and what was assumed."""
    if "pos_embed" in state:
        raise ValueError("this VideoMAE stores a learned pos_embed; transformers' VideoMAE uses the fixed sinusoid "
                         "table, so EchoLens refuses it rather than load it wrong")
    width, chans, tubelet, patch = patch_conv(state, "VideoMAE encoder", overrides)
    notes, known = [], known or {}
    if "size" in overrides:
        check_trained_size(known.get("size"), overrides["size"], f"args.{TRAINING_ARGS['size']}")
    frames, size = (overrides.get(k, known.get(k, default)) for k, default in (("frames", DEFAULT_FRAMES),
                                                                                ("size", DEFAULT_SIZE)))
    for key, default in (("frames", DEFAULT_FRAMES), ("size", DEFAULT_SIZE)):
        if key in overrides:
            continue
        notes.append(f"{key} {known[key]} from the checkpoint's training arguments (args.{TRAINING_ARGS[key]})"
                     if key in known else f"{key} {default} assumed (the sinusoid table is not stored)" + (
                         "; one trained at another size reads its positions scrambled here: --size N gives its own"
                         if key == "size" else ""))
    check_whole_tokens(frames, size, patch, tubelet, "the checkpoint")
    heads = heads_for(width, overrides.get("heads") or VIDEOMAE_HEADS.get(width))
    if "heads" not in overrides:
        notes.append(f"{heads} heads assumed for width {width}")
    kwargs = {}
    if "decoder.head.weight" in state:
        dec_width = need(state, "decoder.norm.weight", "VideoMAE decoder").shape[0]
        dec_heads = heads_for(dec_width, overrides.get("decoder_heads") or DECODER_HEADS.get(dec_width), "decoder_heads")
        if "decoder_heads" not in overrides:
            notes.append(f"{dec_heads} decoder heads assumed for width {dec_width}")
        out_dim = state["decoder.head.weight"].shape[0]
        if out_dim != chans * tubelet * patch * patch:
            raise ValueError(f"decoder.head.weight predicts {out_dim} values a tubelet, not "
                             f"{chans}x{tubelet}x{patch}x{patch}: not a pixel decoder EchoLens can use")
        kwargs = {"decoder_hidden_size": dec_width, "decoder_num_hidden_layers": block_count(state, "decoder.blocks."),
                  "decoder_num_attention_heads": dec_heads, "architectures": ["VideoMAEForPreTraining"],
                  "decoder_intermediate_size": need(state, "decoder.blocks.0.mlp.fc1.weight", "VideoMAE decoder").shape[0]}
        notes.append("norm_pix_loss assumed (VideoMAE's default): reconstructions use each patch's mean and std")
    else:
        kwargs = {"architectures": ["VideoMAEModel"]}
    if "norm.weight" not in state:
        notes.append("no final encoder norm (a fine-tuned, mean-pooling checkpoint): tokens are the last block's output")
    config = VideoMAEConfig(
        image_size=size, patch_size=patch, num_channels=chans, num_frames=frames, tubelet_size=tubelet,
        hidden_size=width, num_hidden_layers=block_count(state, "blocks."), num_attention_heads=heads,
        intermediate_size=need(state, "blocks.0.mlp.fc1.weight", "VideoMAE encoder").shape[0],
        qv_bias=any(k.endswith(("attn.q_bias", "attn.qkv.bias")) for k in state),
        use_mean_pooling="norm.weight" not in state, norm_pix_loss=True,
        layer_norm_eps=overrides.get("layer_norm_eps", 1e-6), **kwargs)
    return config, notes


def convert(ckpt: dict, overrides: dict | None = None, strict: bool = True):
    """(net, info): `VideoMAEForPreTraining` when the decoder is there (reconstruction works), else
    `VideoMAEModel`. info: notes (assumptions), missing/unexpected/ignored keys."""
    state = encoder_state(ckpt)
    config, notes = make_config(state, check_overrides(overrides), training_args(ckpt))
    pretraining = "VideoMAEForPreTraining" in config.architectures
    cls = VideoMAEForPreTraining if pretraining else VideoMAEModel
    net = cls._from_config(config, attn_implementation="sdpa", dtype=DTYPE)          # any stored dtype -> float32
    converted, ignored = convert_state(state, config.hidden_size,
                                       config.decoder_hidden_size if pretraining else None, pretraining)
    report = load_checked(net, converted, "VideoMAE", strict)
    return net.eval(), {"notes": notes, "ignored": ignored, **report}
