"""The two models the app compares, each with what it needs beyond the encoder: its EF probe, its beat-view
probe (the evaluation's third view) and its out-of-distribution reference (absent for a checkpoint that
ships none).

Loads are cached per (name or path, device), so every view and every user shares one copy.
"""
from __future__ import annotations

import functools
import hashlib
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch

import model_zoo
from explain.analysis.defaults import DEFAULT_MODELS, ROLES
from explain.analysis.ood import OODReference, load_reference
from model_zoo.checkpoint import read_config
from model_zoo.features import input_shape
from model_zoo.masks import clip_shape
from model_zoo.probe_io import BEAT_PROBE, BEAT_PROBE_CARD, PROBE, PROBE_CARD, check_probe_fits, load_probe
from model_zoo.probes import BeatProbe, ProbeHead
from model_zoo.registry import SHIPPED, resolve, under_shipped
from model_zoo.wrapper import EncoderWrapper


@dataclass(frozen=True)
class LoadedModel:
    role: str                    # 'jepa' | 'mae': the column it fills in the app
    wrapper: EncoderWrapper
    probe: ProbeHead | None
    ood: OODReference | None
    folder: Path | None
    phantom_trained: bool        # learned from the simulation (the shipped ones): say so beside every EF
    key: tuple = ()              # what it was loaded from (name or path, role, device, frames, files_stamp): cache keys
                                 # use it
    beat_probe: BeatProbe | None = None   # the beat view's EF probe, where the evaluation shipped one
    frames_override: int | None = None    # run at fewer frames than it was saved with ('Frames for large checkpoints')

    @property
    def name(self) -> str:
        return self.wrapper.name

    @property
    def family(self) -> str:
        return self.wrapper.family

    @property
    def at_own_frames(self) -> bool:
        """Run at the frame count it was saved with: its recorded test figures describe it as it runs here."""
        return not self.frames_override

    @property
    def as_shipped(self) -> bool:
        """The model this repository ships under its name, from its shipped folder with its probe, at its own frame
        count: what the committed reports (explain/results) measured under that name, and no copy or conversion."""
        return (self.folder is not None and self.folder.resolve() == (SHIPPED / self.name).resolve()
                and self.probe is not None and self.at_own_frames)

    @property
    def input_shape(self) -> tuple[int, int]:
        """(frames, size) of the model's input."""
        return input_shape(self.wrapper)


def file_stats(where: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, size, modification time) of every file a model loads from: its folder's files, or the checkpoint file
    itself; () where neither is on disk."""
    files = sorted(p for p in where.iterdir() if p.is_file()) if where.is_dir() else [where] if where.is_file() else []
    return tuple((str(p), st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))


def files_stamp(name_or_path: str) -> str:
    """A short stamp of the files a model loads from (file_stats), '' where none is on disk: a folder exported again
    under the same path loads afresh."""
    try:
        where = resolve(name_or_path)[0]
    except (FileNotFoundError, OSError, ValueError):
        where = Path(str(name_or_path)).expanduser()
    stats = file_stats(where)
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:12] if stats else ""


def load_model(name_or_path: str, role: str, device: str | None = None, frames: int | None = None) -> LoadedModel:
    """A model by registry name, folder or checkpoint file, with its probe and OOD reference if it has
    them. frames: fewer input frames for a converted checkpoint too slow at its own (see model_zoo.cost).
    Kept once loaded while its files stay as they were (files_stamp): the page loads it for every event; the frame
    counts tried of one checkpoint share its weights (share_weights)."""
    stamp = files_stamp(name_or_path)
    key = (name_or_path, role, device, frames, stamp)
    with _sharing:
        once = _loading.setdefault(key, threading.Lock())
    with once:                  # a second caller (the warm-up and the first page load) waits for the first's model
        loaded = _load_model(*key)
    source = (str(name_or_path), role, device, stamp)
    with _sharing:                                   # page sessions load from their own threads
        if _loading.get(key) is once:   # loaded: a later caller finds it cached, so the lock goes (a new file: a new key)
            del _loading[key]
        other = _loaded_from.get(source)
        other = other() if other is not None else None
        if other is not None and other is not loaded:
            for mine, theirs in ((loaded.wrapper.net, other.wrapper.net),
                                 (loaded.wrapper.context_encoder, other.wrapper.context_encoder)):
                if mine is not None and theirs is not None:
                    share_weights(theirs, mine)
        for gone in [k for k, ref in _loaded_from.items() if ref() is None]:   # models the load cache let go
            del _loaded_from[gone]
        _loaded_from[source] = weakref.ref(loaded)
    return loaded


# (name or path, role, device, files stamp) -> the model last loaded from those files, at whatever frame count
_loaded_from: dict[tuple, weakref.ref] = {}
_sharing = threading.Lock()
# load key -> the lock its load holds while it runs: lru_cache lets two callers that miss at once both load
_loading: dict[tuple, threading.Lock] = {}


@torch.no_grad()
def share_weights(source: torch.nn.Module, target: torch.nn.Module) -> int:
    """Point target's parameters at source's where name, shape and values agree, and return the bytes now shared:
    one checkpoint loaded at two frame counts ('Frames for large checkpoints') held two copies of every weight, and
    the load cache eight (a ViT-L's 1.2 GB each), though only what depends on the frame count may differ."""
    theirs, shared = dict(source.named_parameters()), 0
    for name, mine in list(target.named_parameters()):
        other = theirs.get(name)
        if (other is not None and other is not mine and other.shape == mine.shape and other.dtype == mine.dtype
                and other.device == mine.device and torch.equal(other, mine)):
            owner, _, attr = name.rpartition(".")
            target.get_submodule(owner)._parameters[attr] = other
            shared += mine.numel() * mine.element_size()
    return shared


@functools.lru_cache(maxsize=8)
def _load_model(name_or_path: str, role: str, device: str | None, frames: int | None, stamp: str) -> LoadedModel:
    """load_model, for one state of its files (stamp: in the key, so results of files since replaced are not reused)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    overrides = {"frames": int(frames)} if frames else None
    wrapper = model_zoo.load(name_or_path, device=device, overrides=overrides)
    if wrapper.family != role:                 # every view reads a slot's model as its family (masks, decoder...)
        a = {"jepa": "a JEPA", "mae": "an MAE"}
        raise ValueError(f"'{name_or_path}' is {a[wrapper.family]} model, not {a[role]}: put it in the "
                         f"{wrapper.family.upper()} slot (EchoLens compares a JEPA with an MAE).")
    try:
        folder = resolve(name_or_path)[0]
    except (FileNotFoundError, OSError):
        folder = None                                    # a checkpoint file: no probe beside it
    width = wrapper.net.config.hidden_size
    probe = wrapper.probe                                   # a V-JEPA evaluation probe attached at load
    if probe is None and folder and folder.is_dir() and (folder / PROBE_CARD).is_file():
        probe = load_probe(folder, wrapper.device)          # the probe shipped beside our models
        check_probe_fits(probe, folder, PROBE, wrapper.name, wrapper.family, width)
    beat_probe = (load_probe(folder, wrapper.device, stem=BEAT_PROBE)
                  if folder and folder.is_dir() and (folder / BEAT_PROBE_CARD).is_file() else None)
    if beat_probe is not None:
        check_probe_fits(beat_probe, folder, BEAT_PROBE, wrapper.name, wrapper.family, width)
    if beat_probe is not None and beat_probe.inputs.t_slots != wrapper.grid[0]:
        beat_probe = None                     # fewer frames than it was fitted on: its beat is not this model's
    ood = load_reference(folder, width) if folder and folder.is_dir() else None
    card = wrapper.card or {}
    phantom = "phantom" in str(card.get("data", "")).lower()
    return LoadedModel(role, wrapper, probe, ood, folder, phantom, (str(name_or_path), role, device, frames, stamp),
                       beat_probe, int(frames) if frames else None)


def is_shipped(name_or_path: str) -> bool:
    """A model this repository ships (a folder under model_zoo/checkpoints/, by name or by path)."""
    try:
        path = resolve(name_or_path)[0]
    except (FileNotFoundError, OSError, ValueError):
        return False                                     # not found: the load says why
    return under_shipped(path)


def frames_for(name_or_path: str, frames: int | None) -> int | None:
    """The frame count to load a model at when the user asks for `frames` ('Frames for large checkpoints' on the
    page, --frames on the command line; 0 or None: each model's own): the models the user brings get it; a shipped
    model keeps its own (None), being quick on a CPU, with its beat-view probe and recorded figures fitted there.
    One box serves both slots, so a large JEPA brought beside the shipped MAE does not cut the MAE's frames too."""
    if not frames or is_shipped(name_or_path) or int(frames) == saved_frames(name_or_path):
        return None                                      # a model asked for its own count runs as it was saved
    return int(frames)


def saved_frames(name_or_path: str) -> int | None:
    """The frame count a model folder was saved with (its config.json's frames_per_clip or num_frames); None for a
    checkpoint file, which stores none, or a folder whose config cannot be read (the load says why)."""
    try:
        path = resolve(name_or_path)[0]
        raw = read_config(path) if path.is_dir() else {}
    except (FileNotFoundError, OSError, ValueError):
        return None
    frames = clip_shape(raw)[0]
    return frames if isinstance(frames, int) else None


def load_pair(jepa: str = DEFAULT_MODELS["jepa"], mae: str = DEFAULT_MODELS["mae"],
              device: str | None = None, frames: int | None = None) -> dict[str, LoadedModel]:
    """{'jepa': ..., 'mae': ...}: the shipped pair by default. frames: as frames_for (shipped models keep theirs)."""
    return {role: load_model(str(name), role, device, frames_for(str(name), frames))
            for role, name in (("jepa", jepa), ("mae", mae))}


def pair_key(pair: dict[str, LoadedModel]) -> tuple:
    """Identifies a pair for caching: two models of one name from different paths or frame counts differ."""
    return tuple(m.key for m in pair.values())


@torch.no_grad()
def probe_ef(probe: ProbeHead | BeatProbe | None, tokens: torch.Tensor) -> float | None:
    """EF of the first clip through a probe, or None without one. tokens (B, N, D)."""
    return None if probe is None else float(probe.ef(tokens.to(probe.ef_mean.device))[0])


@torch.no_grad()
def embed(model: LoadedModel, x: torch.Tensor) -> tuple[torch.Tensor, float | None, float | None]:
    """(tokens (B, N, D) on the CPU, EF of the first clip through the attentive probe and through the beat
    view's probe, each None without that probe)."""
    tokens = model.wrapper.tokens(x).float()                              # (B, N, D)
    return tokens.cpu(), probe_ef(model.probe, tokens), probe_ef(model.beat_probe, tokens)
