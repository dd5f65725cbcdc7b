"""One interface over JEPA and MAE encoders: tokens, attention maps, pooled features, and each
family's own pretext output (JEPA latent prediction, MAE pixel reconstruction).

Inputs are model input clips x (B, T, C, H, W), ImageNet-normalised (echo.preprocess). Tokens are
ordered t' * H'W' + h * W' + w over `grid` (T', H', W'). Neither family has a CLS token.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from model_zoo.checkpoint import TARGET_MEAN, NoContextEncoder, read_card, read_config
from model_zoo import gain_norm
from model_zoo.convert import load_checkpoint
from model_zoo.convert.infer import check_geometry
from model_zoo.convert import hf
from model_zoo.convert.probe import convert as convert_probe
from model_zoo.convert.safety import MAX_BYTES, load_tensors
from model_zoo.cost import forward_gflops
from model_zoo.device import pick_device
from model_zoo.jepa import emphasise_beat, encode_context, predict, target_embeddings
from model_zoo.mae import reconstruct
from model_zoo.masks import as_indices, clip_shape, gather_tokens, grid_of
from model_zoo.recipes import recipe_from_card
from model_zoo.registry import architecture, resolve

@contextlib.contextmanager
def eager_attention(module: nn.Module) -> Iterator[None]:
    """Switch every config in the module tree to eager attention (SDPA returns no weights), then back."""
    configs = {id(m.config): m.config for m in module.modules() if hasattr(m, "config")}
    saved = {k: c._attn_implementation for k, c in configs.items()}
    for c in configs.values():
        c._attn_implementation = "eager"
    try:
        yield
    finally:
        for k, c in configs.items():
            c._attn_implementation = saved[k]


class EncoderWrapper:
    """A loaded JEPA or MAE model behind one interface.

    family: 'jepa' | 'mae'. name: registry name or folder name. card: the model card, or None.
    For JEPA, `encoder='target'` (default, as V-JEPA evaluations) reads the EMA target encoder;
    'context' reads the context encoder (folders we trained ship it). input_gain_norm: the local gain
    normalisation every clip gets before the patch embeddings (model_zoo.gain_norm; sigma as a share of
    the width, 0 = none) and input_gain_eps its floor (model_zoo.gain_norm.EPS by default); each defaults to
    the card's recipe's, as the model was trained.
    """

    def __init__(self, family: str, net: nn.Module, context_encoder: nn.Module | None = None,
                 name: str = "", card: dict | None = None, device: str | torch.device | None = None,
                 encoder: str = "target", input_gain_norm: float | None = None, input_gain_eps: float | None = None):
        if encoder not in ("target", "context"):
            raise ValueError("encoder must be 'target' or 'context'")
        if encoder == "context" and context_encoder is None:
            raise NoContextEncoder(f"{name or 'this model'} has no context encoder (only JEPA folders we trained "
                                   "and V-JEPA training checkpoints hold one)")
        self.family, self.name, self.card = family, name, card
        self.readout = encoder if family == "jepa" else "encoder"   # which encoder reads clips
        self.device = pick_device(device)
        self.net = net.to(self.device).eval()
        self.context_encoder = context_encoder.to(self.device).eval() if context_encoder is not None else None
        self.target_mean: torch.Tensor | None = None      # (N, D), a centred JEPA's (model_zoo.target_mean)
        self.cpu_speeds: deque[float] = deque(maxlen=5)   # GFLOP/s of its last token passes on the CPU (cost.cpu_speed)
        self.probe = None                                 # a V-JEPA evaluation probe attached by load(probe=...)
        if family == "jepa":
            self.encoder = self.context_encoder if encoder == "context" else net.encoder
            self._attention_modules = [layer.attention for layer in self.encoder.layer]
        else:
            self.encoder = getattr(net, "videomae", net)
            self._attention_modules = [layer.attention.attention for layer in self.encoder.encoder.layer]
        c = net.config
        self.grid = grid_of(c)                                              # (T', H', W') tokens
        self.tubelet = int(c.tubelet_size)                                  # frames per token
        self.patch = int(c.patch_size if isinstance(c.patch_size, int) else c.patch_size[0])   # pixels per token side
        recipe = recipe_from_card(card)
        self.input_gain_norm = recipe.input_gain_norm if input_gain_norm is None else input_gain_norm
        self.input_gain_eps = recipe.input_gain_eps if input_gain_eps is None else input_gain_eps
        if self.input_gain_norm:
            encoders = [self.encoder] if family == "mae" else [e for e in (net.encoder, self.context_encoder) if e is not None]
            gain_norm.attach([e.embeddings for e in encoders], self.input_gain_norm, self.input_gain_eps)

    def __repr__(self) -> str:
        return f"EncoderWrapper(name={self.name!r}, family={self.family!r}, grid={self.grid}, device={self.device})"

    @property
    def config(self):
        return self.net.config

    def seen(self, x: torch.Tensor) -> torch.Tensor:
        """The clip as the encoders see it past their input normalisation (model_zoo.gain_norm), x itself
        for a model without one. (B, T, C, H, W) -> (B, T, C, H, W)"""
        return gain_norm.gain_normalise(x, self.input_gain_norm, self.input_gain_eps) if self.input_gain_norm else x

    @torch.no_grad()
    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Final encoder tokens. (B, T, C, H, W) -> (B, N, D). On the CPU each pass is timed: the speed it ran at
        (cpu_speeds) replaces the size-based guess in the time estimates that refuse slow views (model_zoo.cost)."""
        start = time.perf_counter()
        tokens = self.encoder(x.to(self.device)).last_hidden_state
        if self.device.type == "cpu":
            self.cpu_speeds.append(forward_gflops(self, x.shape[1])[1] * len(x) / max(time.perf_counter() - start, 1e-6))
        return tokens

    @torch.no_grad()
    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the tokens. -> (B, D)"""
        return self.tokens(x).mean(1)

    def attentions(self, x: torch.Tensor, fuse_heads: str | None = None,
                   layers: list[int] | None = None) -> list[torch.Tensor]:
        """Self-attention of the encoder's layers: (B, heads, N, N) each, or (B, N, N) with heads fused
        by 'mean' | 'max' | 'min' inside the hook (only one layer's heads are held at once); `layers`
        keeps only those. Hooks are removed afterwards (model_zoo.attention.AttentionRecorder)."""
        from model_zoo.attention import attentions
        return attentions(self, x, fuse_heads, layers)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MAE only: x with hidden tubelets decoded, in input space. mask (B, N) or (N,) bool, True =
        hidden, same count per clip. -> (B, T, C, H, W); see model_zoo.mae.reconstruct."""
        if self.family != "mae" or self.net is self.encoder:
            raise ValueError(f"{self.name or 'this model'} has no MAE decoder to reconstruct with")
        x = x.to(self.device)
        mask = mask.to(self.device).expand(x.shape[0], -1) if mask.ndim == 1 else mask.to(self.device)
        return reconstruct(self.net, x, mask)

    def _target_recipe(self):
        """The recipe the JEPA's targets were built with; refuses an MAE, and a centred JEPA without its mean."""
        if self.family != "jepa":
            raise ValueError(f"{self.name or 'this model'} is not a JEPA")
        recipe = recipe_from_card(self.card)
        if recipe.jepa_center_targets and self.target_mean is None:
            raise ValueError(f"{self.name or 'this model'} was trained to predict centred targets but has no mean "
                             f"target loaded: its folder has no {TARGET_MEAN} (run python -m model_zoo.target_mean "
                             "on the folder), or it was loaded at another frame count than its own, where the mean "
                             "does not apply (load it at its own frame count)")
        return recipe

    def latent_targets(self, x: torch.Tensor) -> torch.Tensor:
        """JEPA only: what its predictor was trained to predict at every token, as in training: the
        target encoder's layer-normed output (or its last K blocks' mean, recipe jepa_target_layers),
        minus the mean target at each position for a centred recipe (jepa_center_targets; training
        subtracted each batch's own mean, whose expectation over training batches is the shipped mean),
        with the beat weighted as the recipe's jepa_motion_weight says, from the clip blurred by the recipe's
        jepa_target_blur in model-input pixels before the gain normalisation hook (training blurred its random
        crops, enlarged 1-1.4x, the same way, so on a full frame the blur is a little wider than on average there).
        Differentiable (pretext attribution). x (B, T, C, H, W) -> (B, N, D)"""
        recipe = self._target_recipe()
        x = x.to(self.device)
        x = gain_norm.blur_frames(x, recipe.jepa_target_blur) if recipe.jepa_target_blur else x
        targets, _ = target_embeddings(self.net.encoder, x, recipe.jepa_target_layers)
        if recipe.jepa_center_targets:
            targets = targets - self.target_mean
        return emphasise_beat(targets, self.grid[0], recipe.jepa_motion_weight)      # (B, N, D)

    @torch.no_grad()
    def predict_hidden(self, x: torch.Tensor, context_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
        """JEPA only: the predictor's guess at the target tokens from the context tokens. (B, Kt, D)

        Masks: bool (N,) or (B, N) (True = in the set, same count per clip) or index tensors (B, K).
        The context encoder sees only the context tokens (the context encoder when the folder has
        one, else the target encoder); hidden tokens get the first (short-range) generator's mask token.
        """
        if self.family != "jepa":
            raise ValueError(f"{self.name or 'this model'} is not a JEPA")
        x = x.to(self.device)
        ctx = as_indices(context_mask, x.shape[0]).to(self.device)
        tgt = as_indices(target_mask, x.shape[0]).to(self.device)
        z = encode_context(self.context_encoder or self.net.encoder, x, ctx)   # (B, Kc, D)
        return predict(self.net.predictor, z, ctx, tgt)                        # (B, Kt, D)

    @torch.no_grad()
    def predict_latents(self, x: torch.Tensor, context_mask: torch.Tensor,
                        target_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """JEPA only: (predicted, target), each (B, Kt, D): `predict_hidden`, and `latent_targets` of
        the full clip at the target tokens (masks as predict_hidden takes them)."""
        self._target_recipe()                    # refuse before the predictor's work
        pred = self.predict_hidden(x, context_mask, target_mask)
        tgt = as_indices(target_mask, x.shape[0]).to(self.device)
        return pred, gather_tokens(self.latent_targets(x), tgt)


def load(name_or_path: str | Path, device: str | torch.device | None = None, encoder: str | None = None,
         extra_dirs: tuple[str | Path, ...] | list[str | Path] = (), overrides: dict | None = None,
         probe: str | Path | None = None, strict: bool = True, max_bytes: int = MAX_BYTES) -> EncoderWrapper:
    """A model by folder or checkpoint-file path, or by name among list_models(extra_dirs), on device
    (default: CUDA, then MPS, then CPU). encoder: JEPA only, 'target' or 'context'; default the one
    its recipe reads clips through (card recipe_settings jepa_readout; 'target' without one).

    Checkpoint files and HF folders are converted in memory (model_zoo.convert): the format is
    detected from the keys, and the weights are float32 whatever dtype the file stores; overrides
    ({'frames', 'size', 'heads', ...}) set what tensors cannot tell; missing or unexpected keys refuse
    the load unless strict=False (then they are warned about and listed in card['conversion']).
    probe: a V-JEPA evaluation probe file, or a Hugging Face classification folder (its pooler and classifier), to
    attach as `wrapper.probe` (a ProbeHead; None otherwise).
    Folders without card.json get a card saying what was loaded, from where, and what was assumed.
    """
    path, name = resolve(name_or_path, extra_dirs)
    loaded = load_checkpoint(path, encoder or "target", overrides, strict, max_bytes)
    check_geometry(loaded.net.config.to_dict(), loaded.family, str(path))
    info = loaded.info
    if info.get("missing") or info.get("unexpected"):
        warnings.warn(f"{name}: loaded with missing keys {info.get('missing')[:8]} and unexpected keys "
                      f"{info.get('unexpected')[:8]} (strict=False)", stacklevel=2)
    card = read_card(path) if path.is_dir() else None
    if card is None:
        card = {"name": name, "format": loaded.format, "source": str(path),
                "architecture": architecture(loaded.net.config.to_dict()), "conversion": info}
    if encoder is None:
        encoder = recipe_from_card(card).jepa_readout if loaded.family == "jepa" else "target"
    wrapper = EncoderWrapper(loaded.family, loaded.net, loaded.context, name=name, card=card, device=device,
                             encoder=encoder)
    frames = (overrides or {}).get("frames")
    # the mean is one vector per token position of the folder's own frame count; at another count (the app's frames
    # box) it does not apply, so it is left None: only the latent-target views use it, and those refuse without it
    if (loaded.family == "jepa" and path.is_dir() and (path / TARGET_MEAN).exists()
            and frames in (None, clip_shape(read_config(path))[0])):
        mean = load_tensors(path / TARGET_MEAN, max_bytes).get("target_mean")
        if mean is None:
            raise ValueError(f"{TARGET_MEAN} in {path} holds no 'target_mean' tensor; remake it with "
                             "python -m model_zoo.target_mean")
        tokens = int(torch.tensor(wrapper.grid).prod())
        if tuple(mean.shape) != (tokens, loaded.net.config.hidden_size):
            raise ValueError(f"{TARGET_MEAN} in {path} is {tuple(mean.shape)}; {name} makes "
                             f"({tokens}, {loaded.net.config.hidden_size}) targets")
        wrapper.target_mean = mean.float().to(wrapper.device)
    if probe is not None:
        ckpt = hf.classifier_head(Path(probe), max_bytes) if hf.is_folder(Path(probe)) else load_tensors(probe, max_bytes)
        head, info = convert_probe(ckpt, loaded.net.config.num_attention_heads, overrides)
        if info["notes"]:                         # what the probe's conversion assumed, beside the encoder's
            conversion = wrapper.card.setdefault("conversion", {})
            conversion["notes"] = [*(conversion.get("notes") or []), *info["notes"]]
        if head.dim != loaded.net.config.hidden_size:
            raise ValueError(f"probe {Path(probe).name} reads {head.dim}-d tokens; {name} makes "
                             f"{loaded.net.config.hidden_size}-d tokens")
        wrapper.probe = head.to(wrapper.device)
    return wrapper
