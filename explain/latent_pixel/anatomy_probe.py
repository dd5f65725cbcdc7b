"""How much anatomy each model's tokens carry: a linear probe per token, from the token to the
tissue that fills most of its tubelet (echo.anatomy labels), trained once on phantom clips and
shipped beside each model as anatomy_probe.safetensors + anatomy_probe.json.

Train (both shipped models; about a minute of CPU each):
    python -m explain.latent_pixel.anatomy_probe --train [--models jepa-small mae-small]
Clips are the evaluation's (model_zoo.features: one heartbeat in the model's frames), train seeds
2,000,000 + i and held-out test seeds 4,000,000 + i, both outside pretraining's 1,000,000 + i.
The probe is multinomial logistic regression (MAX_ITER L-BFGS steps) on the standardised token
plus its position (one-hot t', h, w): where a token sits already says much on the phantom (outside
the fan, the apex; position alone scores higher than tokens alone), and the JEPA's tokens carry
no absolute position (RoPE) while the MAE's do (sin-cos embedding), so both probes get it. The card
reports held-out accuracy and IoU per label (mean over labels present) for that probe, for tokens
alone, for position alone, and for the majority label; the gain over position alone is anatomy read
from the image.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from echo.anatomy import LABELS
from echo.clip import Clip
from explain.latent_pixel.grid import TokenGrid, token_grid
from explain.latent_pixel.inputs import prepare
from model_zoo.checkpoint import read_json
from model_zoo.convert.safety import read_safetensors
from model_zoo.features import split_seeds
from model_zoo.data import render_beat
from model_zoo.registry import resolve

WEIGHTS, CARD = "anatomy_probe.safetensors", "anatomy_probe.json"
N_LABELS = len(LABELS)
MAX_ITER = 100          # L-BFGS iterations: a cap, not convergence (test accuracy is flat beyond)


def token_labels(labels: np.ndarray, g: TokenGrid) -> np.ndarray:
    """(T, H, W) label ids -> (N,) the most frequent label inside each tubelet (ties: lowest id)."""
    t, h, w = g.grid
    lab = np.asarray(labels)[:t * g.tubelet, :h * g.patch, :w * g.patch]
    blocks = lab.reshape(t, g.tubelet, h, g.patch, w, g.patch).transpose(0, 2, 4, 1, 3, 5).reshape(t * h * w, -1)
    counts = np.stack([(blocks == k).sum(1) for k in range(N_LABELS)], 1)     # (N, labels)
    return counts.argmax(1)


def position_features(grid: tuple[int, int, int]) -> np.ndarray:
    """(N, T' + H' + W') one-hot time slot, row and column of each token."""
    t, h, w = grid
    tt, hh, ww = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    return np.concatenate([np.eye(t)[tt.ravel()], np.eye(h)[hh.ravel()], np.eye(w)[ww.ravel()]], 1)


def features(tokens: np.ndarray | None, grid: tuple[int, int, int] | None, n_clips: int) -> np.ndarray:
    """Probe input for n_clips clips: tokens (n_clips * N, D) and/or their positions. -> (n_clips * N, F)"""
    parts = [] if tokens is None else [np.asarray(tokens, np.float64)]
    if grid is not None:
        parts.append(np.tile(position_features(grid), (n_clips, 1)))
    return np.concatenate(parts, 1)


@dataclass
class AnatomyProbe:
    """Linear read-out: label = classes[argmax(((f - mean) / std) @ weight.T + bias)], f the token
    followed by its one-hot position when grid is set."""
    weight: np.ndarray      # (C, F)
    bias: np.ndarray        # (C,)
    mean: np.ndarray        # (F,)
    std: np.ndarray         # (F,)
    classes: np.ndarray     # (C,) label ids
    grid: tuple[int, int, int] | None
    meta: dict

    def predict(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens of whole clips (n * N, D) in token order -> (n * N,) label ids"""
        n = len(tokens) // int(np.prod(self.grid)) if self.grid is not None else len(tokens)
        z = (features(tokens, self.grid, n) - self.mean) / self.std
        return self.classes[(z @ self.weight.T + self.bias).argmax(1)]


def unfit_for(probe: AnatomyProbe, name: str, wrapper) -> str | None:
    """Why the probe cannot read this model's tokens, in words (None where it can): fitted on another model (its
    card's 'model'), or on another token grid or width (a model run at fewer frames has fewer time slots)."""
    fitted_on = probe.meta.get("model")
    if fitted_on and fitted_on != name:
        return f"its anatomy probe was fitted on {fitted_on}, not on {name}"
    grid, width = tuple(wrapper.grid), int(wrapper.net.config.hidden_size)
    if probe.grid is not None and tuple(probe.grid) != grid:
        shown = lambda g: "x".join(map(str, g))                                            # noqa: E731
        return f"its anatomy probe was fitted on the token grid {shown(probe.grid)}, not its {shown(grid)}"
    if probe.weight.shape[1] != width + (sum(grid) if probe.grid is not None else 0):     # position_features' width
        return f"its anatomy probe reads other tokens than its {width}-d ones"
    return None


def iou_table(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """IoU per label present in truth or prediction, by label name."""
    out = {}
    for k in np.union1d(np.unique(pred), np.unique(truth)):
        union = np.sum((pred == k) | (truth == k))
        out[LABELS[int(k)]] = float(np.sum((pred == k) & (truth == k)) / union)
    return out


def scores(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, mean IoU over labels present in the truth, IoU per label."""
    ious = iou_table(pred, truth)
    present = [LABELS[int(k)] for k in np.unique(truth)]
    return {"accuracy": float(np.mean(pred == truth)), "mean_iou": float(np.mean([ious[n] for n in present])),
            "iou": ious}


@torch.no_grad()
def clip_tokens(wrapper, clip: Clip, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (N, D) float32, majority labels (N,)) of a clip with label masks."""
    g = token_grid(wrapper)
    p = prepare(clip, g.frames, g.size, start)
    if p.labels is None:
        raise ValueError("this clip has no tissue labels; the anatomy read-out is scored against them, so it needs "
                         "a phantom clip (an example or a generated one)")
    return wrapper.tokens(p.x)[0].float().cpu().numpy(), token_labels(p.labels, g)


def fit(x: np.ndarray, labels: np.ndarray, grid: tuple[int, int, int] | None, seed: int = 0) -> AnatomyProbe:
    """Logistic regression on standardised features x (n, F) (built by `features`) -> labels (n,)."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(max_iter=MAX_ITER, random_state=seed).fit((x - mean) / std, labels)
    return AnatomyProbe(model.coef_, model.intercept_, mean, std, model.classes_, grid, {})


def readout(wrapper, clip: Clip, probe: AnatomyProbe, start: int = 0) -> dict:
    """The probe on one phantom clip: {'pred', 'truth': (T', H', W') label ids, accuracy, mean_iou, iou}."""
    tokens, truth = clip_tokens(wrapper, clip, start)
    pred = probe.predict(tokens)
    return {"pred": pred.reshape(wrapper.grid), "truth": truth.reshape(wrapper.grid), **scores(pred, truth)}


def save(probe: AnatomyProbe, folder: Path, meta: dict) -> None:
    arrays = {"weight": probe.weight, "bias": probe.bias, "mean": probe.mean, "std": probe.std}
    state = {k: torch.as_tensor(np.ascontiguousarray(v, np.float32)) for k, v in arrays.items()}
    state["classes"] = torch.as_tensor(np.asarray(probe.classes, np.int64))
    state["grid"] = torch.as_tensor(np.asarray(probe.grid or (0, 0, 0), np.int64))
    save_file(state, str(folder / WEIGHTS))
    (folder / CARD).write_text(json.dumps(meta, indent=1))


def load_anatomy_probe(name_or_path: str | Path) -> AnatomyProbe:
    """The anatomy probe shipped beside a model (its folder, or a registry name)."""
    folder = Path(name_or_path) if Path(name_or_path).is_dir() else resolve(name_or_path)[0]
    if not (folder / WEIGHTS).is_file():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS}; train it with "
                                "python -m explain.latent_pixel.anatomy_probe --train")
    s = {k: v.numpy() for k, v in read_safetensors(folder / WEIGHTS).items()}
    meta = read_json(folder / CARD) if (folder / CARD).is_file() else {}
    return AnatomyProbe(s["weight"].astype(np.float64), s["bias"].astype(np.float64), s["mean"].astype(np.float64),
                        s["std"].astype(np.float64), s["classes"],
                        tuple(int(v) for v in s["grid"]) if s["grid"].any() else None, meta)


def _split(wrapper, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    g = token_grid(wrapper)
    parts = [clip_tokens(wrapper, render_beat(s, "adult", g.frames, g.size)) for s in seeds]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def train_and_ship(name: str, n_train: int, n_test: int) -> dict:
    """Fit the probe for one model on train clips, score it on test clips, write it into the model folder."""
    import model_zoo
    start = time.perf_counter()
    wrapper = model_zoo.load(name, device="cpu")
    folder, _ = resolve(name)
    g = token_grid(wrapper)
    train_seeds, test_seeds = split_seeds("train", n_train), split_seeds("test", n_test)
    x_tr, y_tr = _split(wrapper, train_seeds)
    x_te, y_te = _split(wrapper, test_seeds)
    probe = fit(features(x_tr, g.grid, n_train), y_tr, g.grid)
    tokens_only = fit(features(x_tr, None, n_train), y_tr, None)
    position_only = fit(features(None, g.grid, n_train), y_tr, g.grid)
    majority = np.bincount(y_tr, minlength=N_LABELS).argmax()
    meta = {
        "model": wrapper.name, "encoder": "target" if wrapper.family == "jepa" else "encoder",
        "what": "linear (multinomial logistic) probe: final encoder token + one-hot position -> majority "
                "anatomy label of its tubelet",
        "labels": {str(k): v for k, v in LABELS.items()},
        "train_clips": {"n": n_train, "seeds": f"{train_seeds[0]}..{train_seeds[-1]}"},
        "test_clips": {"n": n_test, "seeds": f"{test_seeds[0]}..{test_seeds[-1]}"},
        "test": scores(probe.predict(x_te), y_te),
        "tokens_only": scores(tokens_only.predict(x_te), y_te),
        "position_only": scores(position_only.predict(np.zeros((len(y_te), 0))), y_te),
        "majority_baseline": scores(np.full_like(y_te, majority), y_te),
        "command": "python -m explain.latent_pixel.anatomy_probe --train",
        "seconds": round(time.perf_counter() - start, 1),
    }
    save(probe, folder, meta)
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", action="store_true", help="train and ship the probes")
    ap.add_argument("--models", nargs="+", default=["jepa-small", "mae-small"])
    ap.add_argument("--n-train", type=int, default=160)
    ap.add_argument("--n-test", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not args.train:
        ap.error("nothing to do: pass --train")
    torch.set_num_threads(args.threads)
    for name in args.models:
        meta = train_and_ship(name, args.n_train, args.n_test)
        print(f"{name}: accuracy {meta['test']['accuracy']:.3f}, mean IoU {meta['test']['mean_iou']:.3f} "
              f"(tokens only {meta['tokens_only']['accuracy']:.3f} / {meta['tokens_only']['mean_iou']:.3f}, "
              f"position only {meta['position_only']['accuracy']:.3f} / {meta['position_only']['mean_iou']:.3f}) "
              f"in {meta['seconds']} s")


if __name__ == "__main__":
    main()
