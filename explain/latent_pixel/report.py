"""Measure the latent-vs-pixel and trajectory numbers for the shipped models on held-out phantom clips:
    python -m explain.latent_pixel.report --out DIR [--threads 2]
writes DIR/latent_pixel.json and DIR/latent_pixel.md. Clips use test seeds 4,000,000 + i, outside
pretraining's 1,000,000 + i and the anatomy probes' training seeds 2,000,000 + i. A few minutes of CPU.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import model_zoo
from echo.degrade import BENCHMARK_CONDITIONS
from echo.phantom import render_clip
from explain.latent_pixel.anatomy_probe import load_anatomy_probe
from explain.latent_pixel.grid import clip_masks
from explain.latent_pixel.jepa_view import jepa_view, position_prior
from explain.latent_pixel.mae_view import mae_view
from explain.latent_pixel.speckle import UNTRAINED, UNTRAINED_SEED, speckle_test
from explain.trajectory.embeddings import frame_embeddings
from explain.trajectory.metrics import degraded_runs, loop_closure, phase_decodability
from model_zoo.data import render_beat
from model_zoo.device import code_commit, host
from model_zoo.features import random_encoder, split_seeds


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def pretext(jepa, mae, n_clips: int) -> dict:
    """MAE reconstruction errors and JEPA cosines on one-beat test clips, masks from one seed per clip, beside the
    visible-mean guess and the position-only guess (jepa_view.position_prior, from PRIOR_CLIPS val clips)."""
    rows_mae, rows_jepa, rows_jepa_on_mae = [], [], []
    prior = position_prior(jepa)                        # val clips: never the test clips scored here
    for i, seed in enumerate(split_seeds("test", n_clips)):
        clip = render_beat(seed, "adult", 16, 112)
        masks = clip_masks(jepa, mae, seed=i)
        rows_mae.append(mae_view(mae, clip, masks.mae).errors)
        rows_jepa += [jepa_view(jepa, clip, c, t, prior=prior).summary for c, t in masks.jepa]
        rows_jepa_on_mae.append(jepa_view(jepa, clip, ~masks.mae, masks.mae, prior=prior).summary)
    return {"mae_reconstruction": _mean(rows_mae), "jepa_prediction": _mean(rows_jepa),
            "jepa_prediction_on_mae_masks": _mean(rows_jepa_on_mae), "clips": n_clips}


def trajectories(wrapper, n_clips: int, n_shift: int, stride: int) -> dict:
    """Loop closure, phase error and shift under the benchmark degradations on 64-frame test clips."""
    closures, embeddings, phases, groups = [], [], [], []
    clips = [render_clip(seed, n_frames=64, size=112) for seed in split_seeds("test", n_clips)]
    for i, clip in enumerate(clips):
        fe = frame_embeddings(wrapper, clip, stride=stride)
        phase = clip.truth.phase[fe.frames]
        try:
            closures.append(loop_closure(fe.embeddings, phase))
        except ValueError:                        # a trajectory that never moves (a collapsed model): n/a, not the end
            pass
        embeddings.append(fe.embeddings)
        phases.append(phase)
        groups += [i] * len(phase)
    decod = phase_decodability(np.concatenate(embeddings), np.concatenate(phases), np.asarray(groups),
                               folds=min(5, n_clips))
    shifts = [degraded_runs(wrapper, c, list(BENCHMARK_CONDITIONS), stride=2 * stride, seed=i)["shift"]
              for i, c in enumerate(clips[:n_shift])]
    per_clip = decod["group_error_deg"]                        # each held-out clip's error: the spread over clips
    return {"loop_closure": float(np.mean(closures)) if closures else None, "phase_error_deg": decod["error_deg"],
            "phase_error_clip_sd_deg": float(np.std(per_clip, ddof=1)), "phase_error_by_clip_deg": per_clip,
            "shift": {k: float(np.mean([s[k] for s in shifts])) for k in BENCHMARK_CONDITIONS},
            "clips": n_clips, "shift_clips": n_shift, "stride": stride}


def markdown(r: dict) -> str:
    sp, an, tr, pt = r["speckle"], r["anatomy"], r["trajectory"], r["pretext"]
    lines = ["| encoder | speckle ratio (within / between hearts) |", "| --- | --- |"]
    lines += [f"| {k} | {v['ratio']:.3f} |" for k, v in sp.items()]
    lines += ["", "| model | anatomy acc | anatomy mean IoU | tokens only acc / IoU | position only acc / IoU | "
              "loop closure | phase error (deg; ± sd over clips) | mean shift, benchmark degradations |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in an:
        a, t = an[m], tr[m]
        lines.append(f"| {m} | {a['test']['accuracy']:.3f} | {a['test']['mean_iou']:.3f} | "
                     f"{a['tokens_only']['accuracy']:.3f} / {a['tokens_only']['mean_iou']:.3f} | "
                     f"{a['position_only']['accuracy']:.3f} / {a['position_only']['mean_iou']:.3f} | "
                     f"{'n/a' if t['loop_closure'] is None else format(t['loop_closure'], '.3f')} | "
                     f"{t['phase_error_deg']:.1f} ± {t['phase_error_clip_sd_deg']:.1f} | "
                     f"{np.mean(list(t['shift'].values())):.2f} |")
    e, j, jm = pt["mae_reconstruction"], pt["jepa_prediction"], pt["jepa_prediction_on_mae_masks"]
    lines += ["", "| MAE reconstruction (hidden pixels, 0-1 grey) | value |", "| --- | --- |",
              f"| MSE vs noisy target | {e['mse_vs_noisy']:.4f} |", f"| MSE vs clean anatomy | {e['mse_vs_clean']:.4f} |",
              f"| MSE noisy vs clean (speckle itself) | {e['mse_noisy_vs_clean']:.4f} |",
              f"| a fill with no model (each hidden box its true mean): MSE vs noisy / vs clean | "
              f"{e['flat_vs_noisy']:.4f} / {e['flat_vs_clean']:.4f} |",
              f"| fine-grain energy, reconstruction / input | {e['hf_ratio']:.3f} |",
              f"| fine-grain energy, clean / input | {e['hf_clean_ratio']:.3f} |",
              "", "| JEPA prediction (hidden tokens) | cosine | visible-mean guess | position-only guess (val clips) |",
              "| --- | --- | --- | --- |",
              f"| own multi-block masks | {j['mean_cosine']:.3f} | {j['baseline_cosine']:.3f} | {j['position_cosine']:.3f} |",
              f"| the MAE's 90% tube masks | {jm['mean_cosine']:.3f} | {jm['baseline_cosine']:.3f} | "
              f"{jm['position_cosine']:.3f} |"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hearts", type=int, default=8)
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--clips", type=int, default=8, help="one-beat clips for the pretext views")
    ap.add_argument("--trajectory-clips", type=int, default=8)
    ap.add_argument("--shift-clips", type=int, default=2)
    ap.add_argument("--stride", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    jepa, mae = model_zoo.load("jepa-small", device="cpu"), model_zoo.load("mae-small", device="cpu")
    context = model_zoo.load("jepa-small", device="cpu", encoder="context")
    out = {
        "speckle": speckle_test({"JEPA target encoder": jepa, "JEPA context encoder": context, "MAE encoder": mae,
                                 UNTRAINED.format(jepa.name): random_encoder(jepa, UNTRAINED_SEED),
                                 UNTRAINED.format(mae.name): random_encoder(mae, UNTRAINED_SEED)},
                                split_seeds("test", args.hearts), args.draws),
        "anatomy": {m: load_anatomy_probe(m).meta for m in ("jepa-small", "mae-small")},
        "pretext": pretext(jepa, mae, args.clips),
        "trajectory": {w.name: trajectories(w, args.trajectory_clips, args.shift_clips, args.stride) for w in (jepa, mae)},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "command": "python -m explain.latent_pixel.report --out DIR",
        "commit": code_commit(), "host": host(),                  # which code on which machine made these numbers
    }
    out["seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latent_pixel.json").write_text(json.dumps(out, indent=1))
    (args.out / "latent_pixel.md").write_text(markdown(out))
    print(markdown(out) + f"\n{out['seconds']} s")


if __name__ == "__main__":
    main()
