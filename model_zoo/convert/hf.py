"""Hugging Face model folders (config.json + model.safetensors, sharded safetensors, or pytorch_model.bin)
-> VJEPA2Model / VideoMAE, with every missing or unexpected key reported, and overrides applied.

Covers the folders we ship (plus their float16 context encoder) and HF hub downloads, including the
video-classification variants, whose `vjepa2.` / `videomae.` prefix is removed and whose pooler and
classifier are ignored (named in the report): EchoLens reads the encoder. Weights are read into float32
whatever dtype the folder stores (infer.DTYPE), as native checkpoints are. A JEPA folder whose config has
no predictor (pred_num_hidden_layers 0, as model_zoo.convert.export writes for a checkpoint without one)
and whose weights hold none loads with the predictor marked absent (vjepa.MissingPredictor).
"""
from __future__ import annotations

from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError
from torch import nn
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEModel, VJEPA2Config, VJEPA2Model
from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder

from echo.preprocess import IMAGENET_MEAN, IMAGENET_STD
from model_zoo.checkpoint import CONTEXT_ENCODER, family_of, read_config, read_json
from model_zoo.convert.infer import DTYPE, check_geometry, check_overrides, key_mismatch, load_checked
from model_zoo.convert.safety import MAX_BYTES, check_size, damaged, header_shapes, load_tensors
from model_zoo.convert.probe import from_hf_classifier
from model_zoo.convert.videomae import check_trained_size
from model_zoo.convert.vjepa import MissingPredictor

HEADS = ("pooler.", "classifier.", "fc_norm.")
DECODER_KEYS = ("decoder.", "encoder_to_decoder.", "mask_token")     # VideoMAEForPreTraining's beside its encoder
PROBE_KEYS = ("probe_heads", "ef_mean", "ef_std", "probe_index")
CONFIG_KEYS = {"jepa": {"frames": "frames_per_clip", "size": "crop_size", "heads": "num_attention_heads",
                        "pred_heads": "pred_num_attention_heads", "layer_norm_eps": "layer_norm_eps"},
               "mae": {"frames": "num_frames", "size": "image_size", "heads": "num_attention_heads",
                       "decoder_heads": "decoder_num_attention_heads", "layer_norm_eps": "layer_norm_eps"}}


def is_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


BIN_INDEX = "pytorch_model.bin.index.json"        # the shard index of a pytorch_model.bin too large for one file


def shard_files(index: Path) -> list[Path]:
    """The files a shard index's weight_map names (tensor name -> file name), each once; refused by name where the
    weight_map is not such a table (a list of files crashed on .values())."""
    weight_map = read_json(index, required=("weight_map",))["weight_map"]
    if not isinstance(weight_map, dict) or not all(isinstance(f, str) for f in weight_map.values()):
        raise ValueError(f"{index}: its weight_map does not map tensor names to file names; copy it again from its "
                         "source")
    return [index.parent / f for f in sorted(set(weight_map.values()))]


def weight_files(folder: Path, max_bytes: int = MAX_BYTES, test_read: bool = True) -> list[Path]:
    """The folder's weight files, each size-checked; with test_read a pytorch_model.bin is also test-read with
    weights_only (safety.py) so a pickle needing foreign globals is refused with their names, and without it (a
    listing, which must stay quick) each safetensors file's header is read, so one cut short is named."""
    index = folder / "model.safetensors.index.json"
    if (folder / "model.safetensors").is_file():
        files = [folder / "model.safetensors"]
    elif index.is_file():
        files = shard_files(index)
    elif (folder / "pytorch_model.bin").is_file() or (folder / BIN_INDEX).is_file():
        files = ([folder / "pytorch_model.bin"] if (folder / "pytorch_model.bin").is_file() else
                 shard_files(folder / BIN_INDEX))
        for f in files if test_read else ():
            load_tensors(f, max_bytes)                    # each pickle read weights-only: foreign globals refused
    else:
        raise FileNotFoundError(f"{folder}: no model.safetensors, pytorch_model.bin or shard index of either beside "
                                "config.json")
    for f in files:
        check_size(f, max_bytes)
        if not test_read and f.suffix == ".safetensors":
            header_shapes(f)                              # a header cut short is named
    return files


def network_class(family: str, config: dict) -> type:
    if family == "jepa":
        return VJEPA2Model
    return VideoMAEForPreTraining if "VideoMAEForPreTraining" in (config.get("architectures") or []) else VideoMAEModel


def has_decoder(files: list[Path], max_bytes: int = MAX_BYTES) -> bool:
    """Whether the weight files hold VideoMAEForPreTraining's decoder (DECODER_KEYS), from tensor names alone:
    safetensors headers; a pytorch_model.bin is read weights-only (memory-mapped when a zip archive)."""
    return any(str(k).startswith(DECODER_KEYS) for f in files
               for k in (header_shapes(f) if f.suffix == ".safetensors" else load_tensors(f, max_bytes)))


def apply_overrides(family: str, config: dict, overrides: dict) -> dict:
    """config with the overrides that apply to an HF folder set; ValueError for one that does not."""
    for key, value in overrides.items():
        if key in PROBE_KEYS:
            continue
        if key not in CONFIG_KEYS[family]:
            raise ValueError(f"override {key!r} does not apply to an HF {family} folder "
                             f"(it takes {', '.join(CONFIG_KEYS[family])})")
        if family == "mae" and key == "size":
            check_trained_size(config.get("image_size"), value, "its config.json's image_size")
        config[CONFIG_KEYS[family][key]] = value
    return config


def parse_config(family: str, raw: dict, where: str) -> VJEPA2Config | VideoMAEConfig:
    """transformers' config of a family from config.json's dict, its defaults filled in; a field of the wrong type
    (a width of 'big') is refused naming config.json and the field, not deep inside transformers."""
    try:
        return (VJEPA2Config if family == "jepa" else VideoMAEConfig).from_dict(raw)
    except (StrictDataclassError, TypeError) as e:
        raise ValueError(f"{where}: config.json does not describe a {family} model: {e}".replace("\n", " ")) from None


def no_predictor(family: str, net: nn.Module, missing: list[str]) -> bool:
    """A JEPA built without predictor layers (pred_num_hidden_layers 0) whose folder holds no predictor weight at all:
    the encoder alone, as an export of a predictor-less checkpoint writes it; not a predictor with weights lost."""
    if family != "jepa" or net.config.pred_num_hidden_layers:
        return False
    wanted = [f"predictor.{k}" for k in net.predictor.state_dict()]
    return set(wanted) <= set(missing)


def normalisation_note(folder: Path) -> str | None:
    """A note where the folder's preprocessor_config.json normalises pixels otherwise than EchoLens feeds every model
    (ImageNet's mean and std, echo.preprocess): the model then sees inputs scaled otherwise than it was trained on;
    None where it agrees, says nothing, or cannot be read (a listing of model files is not the place to refuse)."""
    try:
        pre = read_json(folder / "preprocessor_config.json")
    except (OSError, ValueError):
        return None
    mean, std = (pre or {}).get("image_mean"), (pre or {}).get("image_std")
    try:
        agrees = all(abs(float(a) - b) < 1e-3 for a, b in zip([*mean, *std], (*IMAGENET_MEAN, *IMAGENET_STD), strict=True))
    except (TypeError, ValueError):
        return None                                        # absent or not three numbers each: nothing to compare
    return None if agrees else (f"ImageNet's normalisation assumed (mean {list(IMAGENET_MEAN)}, std {list(IMAGENET_STD)}), "
                                f"not its preprocessor_config.json's (mean {mean}, std {std}): inputs are scaled "
                                "otherwise than it was trained on")


def classifier_head(folder: Path, max_bytes: int = MAX_BYTES) -> dict:
    """A VJEPA2ForVideoClassification folder's head (its attentive pooler and classifier) as a V-JEPA evaluation
    probe checkpoint ({'classifier': native state}), so `load(encoder, probe=folder)` and `export --probe folder`
    read a Hugging Face fine-tune's EF head as they read a native probe. ValueError naming the folder otherwise (a
    VideoMAE classification head pools the tokens by their mean: not an attentive probe)."""
    state = {}
    for f in weight_files(folder, max_bytes, test_read=False):        # each file read once, below, as safely
        state.update(load_tensors(f, max_bytes))
    try:
        return {"classifier": from_hf_classifier(state)}
    except (ValueError, KeyError) as e:
        raise ValueError(f"{folder} holds no V-JEPA 2 attentive classification head to read as an EF probe "
                         f"({e}); a probe is a V-JEPA evaluation probe file or a VJEPA2ForVideoClassification "
                         "folder") from None


def load_folder(folder: str | Path, overrides: dict | None = None, strict: bool = True,
                max_bytes: int = MAX_BYTES) -> tuple[str, nn.Module, nn.Module | None, dict]:
    """(family, net, context encoder or None, info) from an HF folder, on the CPU, in eval mode.

    transformers' from_pretrained reads the weights (safetensors, or torch.load weights_only) and
    applies its own key renames (e.g. VideoMAE's q_bias -> query.bias); its loading report is checked
    here: missing or unexpected keys refuse the load (strict) or are returned; classification heads
    (pooler, classifier, fc_norm) are ignored and named.
    """
    folder = Path(folder)
    overrides = check_overrides(overrides)
    raw = read_config(folder)
    family = family_of(raw)
    files = weight_files(folder, max_bytes)
    cls = network_class(family, raw)
    # a config.json that names no architecture: the weights' names say which model, before one read of them
    inferred = cls is VideoMAEModel and not raw.get("architectures") and has_decoder(files, max_bytes)
    cls = VideoMAEForPreTraining if inferred else cls
    config = parse_config(family, apply_overrides(family, raw, overrides), str(folder))
    check_geometry(config.to_dict(), family, str(folder))          # before reading weights a refusal makes moot
    try:
        net, loading = cls.from_pretrained(folder, config=config, attn_implementation="sdpa", dtype=DTYPE,
                                           ignore_mismatched_sizes=True, output_loading_info=True,
                                           use_safetensors=files[0].suffix == ".safetensors")
    except SafetensorError as e:
        raise damaged(files[0] if len(files) == 1 else f"one of {folder}'s {len(files)} weight files", e) from None
    unexpected = sorted(loading.get("unexpected_keys") or [])
    ignored = [k for k in unexpected if k.split(".", 1)[-1].startswith(HEADS) or k.startswith(HEADS)]
    unexpected = [k for k in unexpected if k not in ignored]
    missing, mismatched = sorted(loading.get("missing_keys") or []), sorted(loading.get("mismatched_keys") or [])
    notes = [note] if (note := normalisation_note(folder)) else []
    if "pooler.query_tokens" in ignored:                  # a VJEPA2ForVideoClassification fine-tune's head
        notes.append("its classification head (pooler, classifier) is not read as the encoder; to read EF with it, "
                     f"export the folder with itself as the probe: python -m model_zoo.convert.export {folder} --out "
                     f"FOLDER --probe {folder} --ef-mean M --ef-std S")
    if inferred:
        notes.append("VideoMAEForPreTraining read from the weights (config.json names no architecture; its decoder "
                     "weights make it the pretraining model, so reconstruction works)")
    if no_predictor(family, net, missing):
        missing = [k for k in missing if not k.startswith("predictor.")]
        reason = f"{folder.name} holds no predictor (its config.json has pred_num_hidden_layers 0, its weights none)"
        net.predictor = MissingPredictor(reason)
        notes.append(f"predict_latents unavailable: {reason}")
    if mismatched:                                                       # (key, file shape, config's shape)
        shown = "; ".join(f"{k} is {tuple(a)} in the weights, {tuple(b)} by the config" for k, a, b in mismatched[:3])
        raise ValueError(f"{folder}: the weights do not fit config.json ({len(mismatched)} tensors; is an override "
                         f"or the config wrong?): {shown}")
    if strict and (missing or unexpected):
        raise key_mismatch(f"{folder}", missing, unexpected)
    context = None
    if family == "jepa" and (folder / CONTEXT_ENCODER).exists():
        context = VJEPA2Encoder(net.config)
        ctx = load_tensors(folder / CONTEXT_ENCODER, max_bytes)        # size-capped as the weights are
        load_checked(context, {k: v.to(DTYPE) for k, v in ctx.items()}, f"{folder / CONTEXT_ENCODER}")
        context.eval()
    return family, net.eval(), context, {"notes": notes, "ignored": ignored, "missing": missing,
                                         "unexpected": unexpected}
