"""Run the evaluation: features of train and val once, probes per encoder and seed, then every
test condition re-degrades and re-encodes the same rendered clips and only predictions are kept."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import model_zoo
from model_zoo.convert.hf import is_folder
from model_zoo.device import code_commit, host
from model_zoo.evaluate.protocol import ADULT_CONDITIONS, DEFAULT_SIZES, HELD_OUT, PROBE_SEEDS, Sizes, protocol_card
from model_zoo.evaluate.summary import summarise, train_mean_constant
from model_zoo.features import (ClipBank, PixelEncoder, extract, input_shape, model_inputs, random_encoder,
                                split_seeds, views)
from model_zoo.probe_fit import ProbeTraining, fit_attentive, fit_linear
from model_zoo.probe_inputs import standardiser
from model_zoo.probes import BeatProbe, predict_tokens
from model_zoo.registry import SHIPPED, resolve

BATCH = 16                # clips per encoder forward


@dataclass
class Evaluation:
    """results: the results.json dict. probes[model][k]: attentive probe of probe seed k; beat_probes[model][k]:
    the beat view's probe of probe seed k (a BeatProbe, its input stage included).
    preds[model][probe key][condition]: EF % per test clip (probe key: seed, 'linear' or ('beat', seed)).
    folders: model folder of each pretrained model."""
    results: dict
    probes: dict[str, list] = field(default_factory=dict)
    preds: dict[str, dict] = field(default_factory=dict)
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    beat_probes: dict[str, list] = field(default_factory=dict)


def resolve_model(name_or_path: str) -> tuple[Path, str]:
    """(folder, name): a folder under model_zoo/checkpoints by folder name, a registry name, or a path."""
    shipped = SHIPPED / name_or_path
    return resolve(shipped if is_folder(shipped) else name_or_path)


def resolve_models(names: list[str]) -> dict[str, Path]:
    """{name: folder} for model names or folders (see resolve_model). Two folders whose cards give one name
    (two pretraining seeds of a recipe) are refused, not one dropped."""
    folders = {}
    for m in names:
        folder, name = resolve_model(m)
        if name in folders:
            raise ValueError(f"{folders[name]} and {folder} are both named {name!r}; give each a name of its own "
                             "(the 'name' in its card.json) to compare them")
        folders[name] = folder
    return folders


def load_models(names: str, device: str | None = "cpu") -> dict:
    """Comma-separated model names or folders (see resolve_models), loaded: {name: EncoderWrapper}."""
    return {name: model_zoo.load(folder, device=device)
            for name, folder in resolve_models(list(filter(None, names.split(",")))).items()}


def _encoders(models: list[str], seed: int, device) -> tuple[dict, dict[str, str], dict[str, Path]]:
    """Loaded models plus the random and pixel baselines: (encoders, families, folders). A model that
    gain-normalises its input (model_zoo.gain_norm) gets the pixels gain-normalised the same way as a
    second pixel row, and the random encoder, built like the first JEPA, normalises as that JEPA does."""
    folders = resolve_models(models)
    taken = sorted({"random", "pixels"} & set(folders))
    if taken:
        raise ValueError(f"model name {taken[0]!r} is taken; none may be named random or pixels")
    encoders = {name: model_zoo.load(folder, device=device) for name, folder in folders.items()}
    families = {name: w.family for name, w in encoders.items()}
    shapes = {name: input_shape(w) for name, w in encoders.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"models take different inputs (frames, size): {shapes}; evaluate them separately")
    like = next((w for w in encoders.values() if w.family == "jepa"), next(iter(encoders.values())))
    encoders["random"] = random_encoder(like, seed)
    encoders["pixels"] = PixelEncoder(*next(iter(shapes.values())))
    families.update(random="random", pixels="pixels")
    for sigma, eps in sorted({(w.input_gain_norm, w.input_gain_eps) for w in encoders.values()
                              if getattr(w, "input_gain_norm", 0)}):
        pixels = PixelEncoder(*next(iter(shapes.values())), gain_norm=sigma, gain_eps=eps)    # what such a model's input holds
        encoders[pixels.name], families[pixels.name] = pixels, "pixels"
    return encoders, families, folders


@dataclass
class Probes:
    """Every probe of one evaluation, per encoder: attentive probes (one per seed) and their training
    infos, the ridge probe and its info, and the beat view: its input stage (model_zoo.probe_inputs.BeatInputs,
    statistics from the train split) and its attentive probes (one per seed) with their infos."""
    attentive: dict = field(default_factory=dict)
    infos: dict = field(default_factory=dict)
    linear: dict = field(default_factory=dict)
    linear_infos: dict = field(default_factory=dict)
    beat_inputs: dict = field(default_factory=dict)
    beat: dict = field(default_factory=dict)
    beat_infos: dict = field(default_factory=dict)


def _fit_seeds(tr_inputs: torch.Tensor, tr_ef: np.ndarray, va_inputs: torch.Tensor, va_ef: np.ndarray,
               seeds: list[int], training: ProbeTraining, device) -> tuple[list, list[dict]]:
    """One attentive probe per seed on the same inputs (n, N, D): (probes, infos)."""
    fits = [fit_attentive(tr_inputs, tr_ef, va_inputs, va_ef, s, training, device) for s in seeds]
    return [f for f, _ in fits], [i for _, i in fits]


def _fit_probes(encoders: dict, feats: dict, seeds: list[int], training: ProbeTraining, device,
                progress: bool) -> Probes:
    """Attentive probes (one per seed), a ridge probe, and beat-view probes (one per seed) per encoder."""
    p = Probes()
    for name in tqdm(encoders, desc="probes", disable=not progress, leave=False):
        tr, va = feats["train"][name], feats["val"][name]
        p.attentive[name], p.infos[name] = _fit_seeds(tr.tokens, tr.ef, va.tokens, va.ef, seeds, training, device)
        p.linear[name], p.linear_infos[name] = fit_linear(tr.pooled, tr.ef, va.pooled, va.ef)
        inputs = p.beat_inputs[name] = standardiser(tr.tokens, "beat", encoders[name].grid[0])
        p.beat[name], p.beat_infos[name] = _fit_seeds(inputs(tr.tokens), tr.ef, inputs(va.tokens), va.ef,  # (n, N, 2D)
                                                      seeds, training, device)
    return p


def probe_keys(seeds: list[int]) -> list:
    """The keys of one model's predictions: each attentive probe's seed, 'linear', and ('beat', seed)."""
    return [*seeds, "linear", *(("beat", s) for s in seeds)]


def _predict(encoders: dict, probes: Probes, seeds: list[int], batches) -> dict[str, dict]:
    """EF % per clip from every probe: {model: {probe key (probe_keys): (n,)}}."""
    parts = {name: {key: [] for key in probe_keys(seeds)} for name in encoders}
    for x in batches:
        for name, enc in encoders.items():
            tokens, pooled = views(enc, x)                                 # (B, N, D), (B, P)
            beat = probes.beat_inputs[name](tokens)                        # (B, N, 2D)
            for s, probe, beat_probe in zip(seeds, probes.attentive[name], probes.beat[name]):
                parts[name][s].append(predict_tokens(probe, tokens))
                parts[name][("beat", s)].append(predict_tokens(beat_probe, beat))
            parts[name]["linear"].append(predict_tokens(probes.linear[name], pooled))
    return {name: {key: np.concatenate(chunks) for key, chunks in p.items()} for name, p in parts.items()}


def evaluate(models: list[str], sizes: Sizes = DEFAULT_SIZES, probe_seeds: int = PROBE_SEEDS, seed: int = 0,
             training: ProbeTraining = ProbeTraining(), device: str | None = None,
             progress: bool = True, held_out: str = "test") -> Evaluation:
    """EF probes on each model, a random encoder and raw pixels; every condition on the same test clips.
    held_out: the splits reported on (protocol.HELD_OUT: 'test', or 'confirm', hearts no other run reads)."""
    if not models:
        raise ValueError("no models to evaluate")
    if held_out not in HELD_OUT:
        raise ValueError(f"held_out must be one of {', '.join(HELD_OUT)}; got {held_out!r}")
    adult, child = HELD_OUT[held_out]
    start, commit = time.perf_counter(), code_commit()            # the code as it starts, not as it ends an hour on
    encoders, families, folders = _encoders(models, seed, device)
    frames, size = input_shape(encoders[next(iter(folders))])
    dev = encoders[next(iter(folders))].device
    bank = ClipBank(frames, size)
    seeds = [seed + k for k in range(probe_seeds)]

    def batches(split: str, n: int, condition: str):
        inputs = model_inputs(bank.clips(split, n), split_seeds(split, n), condition, frames, size, BATCH)
        return tqdm(inputs, total=-(-n // BATCH), desc=f"{split} {condition}", disable=not progress, leave=False)

    t = time.perf_counter()
    feats = {split: extract(encoders, batches(split, n, "clean"), bank.ef(split, n))
             for split, n in (("train", sizes.train), ("val", sizes.val))}
    wall = {"train_val_features": time.perf_counter() - t}
    t = time.perf_counter()
    probes = _fit_probes(encoders, feats, seeds, training, dev, progress)
    del feats
    wall["probes"] = time.perf_counter() - t

    preds = {name: {key: {} for key in probe_keys(seeds)} for name in encoders}
    truth, wall["conditions"] = {}, {}
    tests = [(c, adult, sizes.test, c) for c in ADULT_CONDITIONS]
    tests.append(("pediatric", child, sizes.pediatric, "clean"))
    for test_set, split, n, condition in tests:
        t = time.perf_counter()
        for model, by_key in _predict(encoders, probes, seeds, batches(split, n, condition)).items():
            for key, values in by_key.items():
                preds[model][key][test_set] = values
        truth[test_set] = bank.ef(split, n)
        wall["conditions"][test_set] = round(time.perf_counter() - t, 1)
    wall.update(total=time.perf_counter() - start)
    results = {
        "seed": seed,
        "n": {c: len(truth[c]) for c in truth}, "held_out": held_out,
        "n_train": sizes.train, "n_val": sizes.val,
        "models": summarise(truth, preds, families, probes, seeds),
        "train_mean_constant": train_mean_constant(truth, bank.ef("train", sizes.train)),
        "protocol": protocol_card(frames, size, seeds, training.to_dict(), held_out),
        "wall_s": {k: round(v, 1) if isinstance(v, float) else v for k, v in wall.items()},
        "threads": torch.get_num_threads(), "device": str(dev), "host": host(), "commit": commit,
    }
    beat_probes = {name: [BeatProbe(probes.beat_inputs[name], head).to(dev) for head in heads]   # inputs fitted on the CPU
                   for name, heads in probes.beat.items()}
    return Evaluation(results, probes.attentive, preds, truth, folders, beat_probes)
