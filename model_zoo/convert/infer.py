"""Shared conversion steps: strip wrapper prefixes, read a ViT's shape off its tensors, and load a
converted state dict strictly, naming every missing, unexpected or mis-shaped key.

Head counts are not stored in any tensor (a fused qkv is (3D, D) for any split), so they come from
the standard ViT table by width (or an override) and are reported as assumed.
"""
from __future__ import annotations

import numbers
import re

import torch
from torch import nn

from model_zoo.masks import CLIP_KEYS

PREFIXES = ("module.", "backbone.", "_orig_mod.")
# Every model EchoLens loads holds float32 weights, whatever dtype its file stores (float16 or bfloat16 safetensors, a
# half-precision .pt): clips reach it as float32, so every checkpoint runs alike (a float16 VideoMAE folder kept in
# float16 failed its first forward; a bfloat16 V-JEPA 2 one ran in bfloat16). Native files get it by being copied
# into networks built in DTYPE (vjepa.py, videomae.py); HF folders by being read into it (hf.py).
DTYPE = torch.float32
# Standard ViT widths -> heads, V-JEPA 2's giants (vit_giant_xformers 1408 wide with 22 heads, vit_gigantic_xformers
# 1664 with 26); VideoMAE V2's giant, as wide, has 16 (videomae.py's VIDEOMAE_HEADS)
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 22, 1664: 26}
OVERRIDE_KEYS = ("frames", "size", "heads", "pred_heads", "decoder_heads", "tubelet", "patch",
                 "layer_norm_eps", "probe_heads", "ef_mean", "ef_std", "probe_index")


def check_overrides(overrides: dict | None) -> dict:
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f"unknown override(s) {', '.join(unknown)}; known: {', '.join(OVERRIDE_KEYS)}")
    return overrides


# The largest model a config may ask for: beyond these, building it alone takes minutes and tens of GB (V-JEPA 2's
# ViT-g is 1408 wide, 40 layers, 64 frames at 384 px; a config of 20,000 layers built for 75 s before running out)
MAX_SIZES = {"hidden_size": 4096, "num_hidden_layers": 64, "num_attention_heads": 64, "intermediate_size": 16384,
             "frames": 128, "size": 1024}
# sizes a config may hold beside the encoder's (its MLP, the predictor's, the decoder's), each with its limit's key
OPTIONAL_SIZES = {"intermediate_size": "intermediate_size", "pred_hidden_size": "hidden_size",
                  "pred_num_hidden_layers": "num_hidden_layers", "pred_num_attention_heads": "num_attention_heads",
                  "decoder_hidden_size": "hidden_size", "decoder_num_hidden_layers": "num_hidden_layers",
                  "decoder_num_attention_heads": "num_attention_heads",
                  "decoder_intermediate_size": "intermediate_size"}

# (width, heads, the override that sets the heads): transformers refused a split that is not whole without naming the
# folder ("The hidden size (32,) is not a multiple of the number of attention heads 3"), and the list called it loadable
HEAD_SPLITS = (("hidden_size", "num_attention_heads", "heads"),
               ("pred_hidden_size", "pred_num_attention_heads", "pred_heads"),
               ("decoder_hidden_size", "decoder_num_attention_heads", "decoder_heads"))


def check_sizes(config: dict, where: str) -> None:
    """Refuse, naming the key, a config whose sizes are not positive whole numbers (a predictor's or decoder's may be
    0: none), larger than MAX_SIZES, or widths its heads do not divide (HEAD_SPLITS): a patch of 0 divided by zero,
    a width of 'big' failed deep inside transformers, 20,000 layers ran out of memory."""
    patch = config.get("patch_size")
    patch = patch[0] if isinstance(patch, (list, tuple)) and patch else patch
    checks = [("patch_size", patch, 1, None), ("tubelet_size", config.get("tubelet_size"), 1, None)]
    checks += [(k, config.get(k), 1, MAX_SIZES[k]) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads")]
    checks += [(k, config[k], 0, MAX_SIZES[limit])             # 0: no predictor or decoder (an encoder alone)
               for k, limit in OPTIONAL_SIZES.items() if config.get(k) is not None]
    for key, value, least, most in checks:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise ValueError(f"{where}: {key} {value!r} is not a {'positive' if least else 'non-negative'} whole "
                             "number")
        if most is not None and value > most:
            raise ValueError(f"{where}: {key} {value} is beyond what EchoLens builds ({most} at most): a "
                             "model that size would take minutes and tens of GB to build on this machine")
    for width, heads, override in HEAD_SPLITS:
        if config.get(width) and config.get(heads) and config[width] % config[heads]:
            raise ValueError(f"{where}: {width} {config[width]} is not a multiple of {heads} {config[heads]}: each "
                             f"attention head takes an equal share of the width (pass overrides={{'{override}': N}} "
                             "to model_zoo.load for a count N that divides it)")


def check_geometry(config: dict, family: str, where: str) -> None:
    """Refuse, naming the rule, a model whose input the app cannot build: sizes that are not positive whole numbers
    or beyond MAX_SIZES (check_sizes), a size that is not a whole number of patches, a frame count not a whole
    number of tubelets, or other than 3 input channels."""
    check_sizes(config, where)
    keys = (*CLIP_KEYS[family], "in_chans" if family == "jepa" else "num_channels")
    frames, size, channels = (config.get(k) for k in keys)
    patch, tubelet = config.get("patch_size"), config.get("tubelet_size")
    patch = patch[0] if isinstance(patch, (list, tuple)) else patch
    if isinstance(size, (list, tuple)):
        size = size[0]
    for key, value, most in ((keys[0], frames, MAX_SIZES["frames"]), (keys[1], size, MAX_SIZES["size"])):
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{where}: {key} {value} is not a positive whole number; export it with a positive "
                             f"--{'frames' if key == keys[0] else 'size'} (or pass overrides={{...}} to model_zoo.load)")
        if value > most:
            raise ValueError(f"{where}: {key} {value} is beyond what EchoLens runs ({most} at most): one clip at "
                             "that size would not fit in this machine's memory")
    check_whole_tokens(frames, size, patch, tubelet, where, keys[:2])
    if channels != 3:
        raise ValueError(f"{where}: {channels} input channel(s); EchoLens feeds every model 3-channel (RGB) "
                         "clips, as V-JEPA 2 and VideoMAE take them")


def check_whole_tokens(frames: int, size: int, patch: int, tubelet: int, where: str,
                       keys: tuple[str, str] = ("frames", "size")) -> None:
    """Refuse a clip shape the model cannot cut into tokens: a size not a whole number of patches, a frame count
    not a whole number of tubelets. keys: what the frame count and the size are called where they came from."""
    if size % patch:
        raise ValueError(f"{where}: {keys[1]} {size} px is not a whole number of {patch}-px patches; EchoLens "
                         "cannot cut its input into tokens (load it with model_zoo.load(..., overrides={'size': N}) for a size N that is)")
    if frames % tubelet:
        raise ValueError(f"{where}: {keys[0]} {frames} is not a whole number of {tubelet}-frame tubelets: type a "
                         f"multiple of {tubelet} in the app's frames box (on the command line: --frames N; in Python: "
                         "overrides={'frames': N} to model_zoo.load)")


def strip_prefixes(state: dict, what: str = "the checkpoint") -> dict:
    """Keys without DDP's `module.`, V-JEPA's MultiSeqWrapper `backbone.` (and torch.compile's) prefixes. what: where
    the state came from, named when it is not a dict (a `predictor` saved as None crashed on .items())."""
    if not isinstance(state, dict):
        kind = "None" if state is None else f"a {type(state).__name__}"
        raise ValueError(f"{what} is {kind}, not a state dict (tensor names to tensors): not a checkpoint EchoLens "
                         "reads")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"a state dict key {key!r} is not a tensor name: not a checkpoint EchoLens reads")
        while key.startswith(PREFIXES):
            key = key.split(".", 1)[1]
        out[key] = value
    return out


def heads_for(width: int, override: int | None = None, key: str = "heads") -> int:
    """Heads for a width: the override, else the standard table, else 64-wide heads. key: the override that
    sets them ('heads', 'pred_heads', 'decoder_heads'), named in the message when they cannot be told."""
    flag = "--" + key.replace("_", "-")
    if override is not None and (override < 1 or width % override):
        divisors = ", ".join(str(d) for d in range(1, width + 1) if width % d == 0)
        raise ValueError(f"{override} attention heads ({flag}) do not divide width {width} into equal heads; "
                         f"choose one of {divisors}")
    heads = override or HEADS_BY_WIDTH.get(width) or (width // 64 if width % 64 == 0 else None)
    if not heads or width % heads:
        raise ValueError(f"cannot tell the number of attention heads for width {width} ({key}): export the checkpoint "
                         f"once with `python -m model_zoo.convert.export CHECKPOINT --out FOLDER {flag} N` and load "
                         f"FOLDER (in Python: overrides={{'{key}': N}})")
    return heads


def block_count(state: dict, prefix: str) -> int:
    """Number of transformer blocks under prefix (keys `{prefix}N.`)."""
    ids = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    if not ids:
        return 0
    if ids != set(range(max(ids) + 1)):
        raise ValueError(f"blocks under {prefix!r} are not numbered 0..{max(ids)}: {sorted(ids)}")
    return max(ids) + 1


def mlp_ratio(hidden: int, width: int) -> float:
    """A ratio r with int(width * r) == hidden exactly (HF builds the MLP as int(width * mlp_ratio))."""
    r = hidden / width
    return r if int(width * r) == hidden else (hidden + 0.5) / width


def need(state: dict, key: str, what: str) -> torch.Tensor:
    """state[key], refused by name where it is missing or not a tensor (a list there crashed on .ndim)."""
    if key not in state:
        raise ValueError(f"{what}: key {key!r} not found (keys start: {', '.join(list(state)[:6])})")
    if not isinstance(state[key], torch.Tensor):
        raise ValueError(f"{what}: {key!r} is a {type(state[key]).__name__}, not a tensor: not a checkpoint EchoLens "
                         "reads")
    return state[key]


def patch_conv(state: dict, what: str, overrides: dict) -> tuple[int, int, int, int]:
    """(width, channels, tubelet, patch) of a video ViT's patch_embed.proj.weight, (width, channels, tubelet, patch,
    patch); refused by name for an image ViT's 4-D conv, non-square patches, or a patch / tubelet override that
    contradicts the tensor (the tensor decides them: an override cannot reshape the weights)."""
    conv = need(state, "patch_embed.proj.weight", what)
    if conv.ndim != 5:
        kind = "an image (2D) ViT, not a video one" if conv.ndim == 4 else "not a video ViT's patch convolution"
        raise ValueError(f"patch_embed.proj.weight has shape {tuple(conv.shape)}: {kind}")
    width, chans, tubelet, patch, patch_w = conv.shape
    if patch != patch_w:
        raise ValueError(f"patch_embed.proj.weight: non-square patches {patch}x{patch_w} are not supported")
    for key, value in (("patch", patch), ("tubelet", tubelet)):
        if key in overrides and overrides[key] != value:
            raise ValueError(f"override {key}={overrides[key]} contradicts patch_embed.proj.weight ({key} {value})")
    return width, chans, tubelet, patch


def split_qkv(weight: torch.Tensor, bias: torch.Tensor | None, width: int, key: str) -> list:
    """A fused (3D, D) qkv projection as [(Wq, bq), (Wk, bk), (Wv, bv)] (bias None if absent)."""
    if weight.shape != (3 * width, width):
        raise ValueError(f"{key}: shape {tuple(weight.shape)}, expected {(3 * width, width)} for width {width}")
    ws = weight.split(width)
    bs = bias.split(width) if bias is not None else (None,) * 3
    return list(zip(ws, bs))


_BLOCK = re.compile(r"(.*?\blayers?)\.(\d+)\.")         # 'encoder.layer.10.attention...' -> ('encoder.layer', 10)


def key_mismatch(what: str, missing: list[str], unexpected: list[str]) -> ValueError:
    """The refusal of weights whose keys are not the model's; where whole blocks lack weights or weights are left
    over (a layer count in the config that is not the weights'), it gives the two counts, which the keys hide."""
    counts = []                                   # only where nothing but whole blocks differ
    in_blocks = all(_BLOCK.match(k) for k in missing + unexpected)
    for prefix in sorted({m.group(1) for k in missing + unexpected if (m := _BLOCK.match(k))} if in_blocks else ()):
        blocks = lambda keys: {int(m.group(2)) for k in keys if (m := _BLOCK.match(k)) and m.group(1) == prefix}  # noqa: E731
        lacking, extra = blocks(missing), blocks(unexpected)
        if lacking and not extra:
            counts.append(f"the config gives {max(lacking) + 1} blocks under '{prefix}', the weights hold {min(lacking)}")
        elif extra and not lacking:
            counts.append(f"the weights hold {max(extra) + 1} blocks under '{prefix}', the config gives {min(extra)}")
    shown = 2 if counts else 8                   # the counts say it: a few keys for the record
    more = lambda keys: " ..." if len(keys) > shown else ""                               # noqa: E731
    keys = (f"missing keys {missing[:shown]}{more(missing)}; unexpected keys {unexpected[:shown]}{more(unexpected)}")
    head = f"{'; '.join(counts)}: is the config's layer count right? ({len(missing)} {keys})" if counts else keys
    return ValueError(f"{what}: {head}. In Python, model_zoo.load(..., strict=False) accepts them (missing weights "
                      "stay random)")


def load_checked(model: nn.Module, state: dict, what: str, strict: bool = True) -> dict:
    """Load state into model; refuse (ValueError naming the keys) on any shape mismatch, and on missing
    or unexpected keys unless strict is False, in which case they are returned (and still reported).

    Returns {'missing': [...], 'unexpected': [...]}.
    """
    own = model.state_dict()
    wrong = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
             for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise ValueError(f"{what}: shape mismatch (is an override wrong?): " + "; ".join(wrong[:5]))
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if strict and (missing or unexpected):
        raise key_mismatch(what, missing, unexpected)
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return {"missing": missing, "unexpected": unexpected}
