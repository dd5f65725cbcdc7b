"""Probe-free: does an encoder's change from end-diastole to end-systole grow with EF, block by block?

The per-layer probes found the MAEs keep the heart's size and lose EF after block 2, and read that as
losing the contraction between ED and ES; this measures it without training anything. Each val heart is
rendered as one beat in the encoder's frames (as pretraining and the evaluation render it). After the
patch embedding and after every block, the tokens are layer-normed (no gain, so blocks compare) and
    ed_es     = mean over places of the mean squared change per dimension from the ED time slot to the ES one
    any_pair  = the same change averaged over every pair of time slots (what the beat moves at all,
                speckle decorrelation included, which grows with the time between slots, not with EF)
per heart. Across hearts, rho_ef is the Spearman correlation of ed_es with EF (does the block's ED-to-ES
change grow with the contraction?), and ed_es_vs_any_pair the mean of their ratio (above 1: ED to ES is
more of a change than two slots of the beat usually are). Each model beside its untrained draw (seed 0,
the evaluation's random baseline). Val hearts only; the test split is not read.

    python -m model_zoo.experiments.contraction --models NAME=FOLDER,... --out FILE.json [--threads N]
"""
from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

import model_zoo
from echo.clip import Clip
from model_zoo.beat import beat_deviation
from model_zoo.data import render_beat
from model_zoo.experiments.layer_probe import layer_tokens, significant
from model_zoo.experiments.named_folders import parse_named_folders
from model_zoo.features import input_shape, model_inputs, random_encoder, split_seeds
from model_zoo.wrapper import EncoderWrapper

HEARTS = 128


def beat_changes(tokens: torch.Tensor, t_slots: int, ed_slot: int, es_slot: int) -> tuple[float, float]:
    """(ed_es, any_pair) of one clip's tokens (N, D), ordered t' * places + place (see the module docstring).
    any_pair from the deviations over the beat: summed over the T'(T'-1)/2 pairs of slots, the squared
    change between two slots is T' times the squared deviations summed over slots."""
    z = F.layer_norm(tokens.float(), tokens.shape[-1:])[None]                        # (1, N, D)
    deviation = beat_deviation(z, t_slots)[0]                                          # (T', P, D)
    ed_es = (deviation[ed_slot] - deviation[es_slot]).pow(2).mean().item()
    return ed_es, 2 * t_slots / (t_slots - 1) * deviation.pow(2).mean().item()


def contraction_by_layer(encoder: EncoderWrapper, clips: list[Clip], seeds: list[int]) -> list[dict]:
    """One row per layer (0 = the patch embedding): rho_ef, ed_es, any_pair, ed_es_vs_any_pair over the clips."""
    frames, size = input_shape(encoder)
    t_slots = encoder.grid[0]
    tubelet = frames // t_slots
    rows = None
    ef = np.array([c.truth.ef for c in clips])
    start = 0
    for x in model_inputs(clips, seeds, "clean", frames, size):
        layers = layer_tokens(encoder, x)                                   # L + 1 x (B, N, D)
        rows = rows or [[] for _ in layers]
        for i, clip in enumerate(clips[start:start + x.shape[0]]):
            ed, es = clip.truth.ed_frames[0] // tubelet, clip.truth.es_frames[0] // tubelet
            for layer, tokens in zip(rows, layers):
                layer.append(beat_changes(tokens[i], t_slots, ed, es))
        start += x.shape[0]
    out = []
    for k, layer in enumerate(rows):
        ed_es, any_pair = np.array(layer).T                                 # (hearts,) each
        out.append({"layer": k, "rho_ef": significant(spearmanr(ed_es, ef).statistic),
                    "ed_es": significant(ed_es.mean()), "any_pair": significant(any_pair.mean()),
                    "ed_es_vs_any_pair": significant((ed_es / any_pair).mean())})
    return out


def val_beats(frames: int, size: int, n: int = HEARTS) -> tuple[list[Clip], list[int]]:
    """The first n val hearts, one beat each in `frames` frames, and their seeds."""
    seeds = split_seeds("val", n)
    return [render_beat(s, "adult", frames, size) for s in seeds], seeds


def main(argv: list[str] | None = None) -> None:
    folders, out_file, threads = parse_named_folders(__doc__, argv)
    torch.set_num_threads(threads)
    models = {name: model_zoo.load(folder, device="cpu") for name, folder in folders.items()}
    encoders = {}
    for name, wrapper in models.items():
        encoders[name] = wrapper
        encoders[f"{name} untrained"] = random_encoder(wrapper, 0)
    beats: dict[tuple[int, int], tuple[list[Clip], list[int]]] = {}
    out = {"split": "val", "hearts": HEARTS, "models": {}}
    for name, encoder in encoders.items():
        shape = input_shape(encoder)
        beats.setdefault(shape, val_beats(*shape))
        out["models"][name] = contraction_by_layer(encoder, *beats[shape])
        print(f"{name:>40}  " + "  ".join(f"L{r['layer']} rho {r['rho_ef']:+.2f} ratio {r['ed_es_vs_any_pair']:.2f}"
                                            for r in out["models"][name]))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
