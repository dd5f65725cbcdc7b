"""JEPA vs MAE, per method: anatomy focus and faithfulness on phantom test clips.

    python -m explain.focus_report --n 24 --out runs/focus_report [--models jepa-small mae-small]

Clips: the evaluation's test seeds (model_zoo.features.SPLIT_SEEDS['test'] + i, adult, one beat in
the model's frames and size, model_zoo.data.render_beat), so no pretraining or probe-training clip
is used. Model input as the evaluation makes it (echo.preprocess.to_model_input); the phantom's
labels get the same sector crop (echo.preprocess.crop_to_sector) and a nearest resize.

Per clip, model and method: the token map, its heat over the frames with mass kept (scale='max'),
focus scores on cardiac structures inside the sector (explain.focus), and deletion / insertion
AUCs of |EF change| against random orders (explain.faithfulness; the random orders are shared by
all methods of a clip). FeatureAblation with a one-tubelet mask equals Occlusion exactly
(tests/test_explain_attribution.py), so it is computed once and listed under both names.
Per-clip records go to records.jsonl as they finish; focus_report.json and .md summarise them
(mean and standard error over clips; a method is 'better than random' on a curve when its mean
paired difference from the random mean exceeds two standard errors).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import model_zoo
from echo.preprocess import crop_to_sector, to_model_input
from explain.attention_maps import TokenMap, clip_map
from explain.attribution.integrated_gradients import STEPS as IG_STEPS
from explain.ef_forward import EFForward
from explain.faithfulness import BETTER, MODES, NOT_BETTER, faithfulness, random_aucs
from explain.focus import focus_scores, structure_mask
from explain.maps import grid_of_wrapper
from explain.overlay import write_overlay_strip
from model_zoo.data import render_beat
from model_zoo.evaluate.format import plus_minus
from model_zoo.features import SPLIT_SEEDS, input_shape
from model_zoo.probe_io import PROBE_CARD, load_probe
from model_zoo.registry import resolve

# (report name, clip_map method, params)
METHODS = (
    ("rollout (probe read-out)", "rollout", {"readout": "probe"}),
    ("rollout (mean read-out)", "rollout", {"readout": "mean"}),
    ("paper figure (last layer, received)", "paper", {}),
    ("occlusion", "occlusion", {}),
    ("integrated_gradients", "integrated_gradients", {"n_steps": 16, "internal_batch_size": 4}),
    ("pretext loss", "pretext", {"n_masks": 2}),
)
ALIASES = {"feature_ablation (= occlusion)": "occlusion"}
# A map that knows nothing of the clip: random orders follow no place in it, so any map with a place to favour can
# beat them; a map that tracks what drives the EF should also beat this one, the frame's middle in every clip
CONTROL = "control: the frame's middle, whatever the clip"
BEATS_CONTROL, NOT_CONTROL = "beats the control", "no better than the control"
SCORES = ("focus_share", "chance_share", "ratio", "energy_pointing_game", "pointing_game", "outside_share")
RECORD = Path(__file__).resolve().parent / "results" / "focus_report.json"       # the committed run
# clip_map's defaults for the settings a report row leaves out, and the one feature-ablation region that equals
# occlusion: a map is matched to a row only when every setting agrees
DEFAULTS = {"rollout": {"head_fusion": "mean", "discard_ratio": 0.0, "start_layer": 0},
            "paper": {"layer": -1, "mode": "received"}, "integrated_gradients": {"n_steps": IG_STEPS},
            "pretext": {"n_masks": 2}}


def _settings(method: str, params: dict) -> dict:
    """A map's settings as clip_map reads them (its defaults filled in; batching left out)."""
    if method == "feature_ablation" and tuple(params.get("cells", ())) == (1, 1, 1):
        method, params = "occlusion", {}                    # one block a region: occlusion, map for map
    return {"method": method, **DEFAULTS.get(method, {}),
            **{k: v for k, v in params.items() if k != "internal_batch_size"}}


def recorded_verdicts(name: str, method: str, params: dict, key: str = "verdict") -> tuple[dict[str, str], int] | None:
    """({'deletion': verdict, 'insertion': verdict}, clips) the committed report (RECORD) measured for model
    `name`'s map made by `method` with `params` (clip_map's), or None: other settings, or nothing measured.
    key 'vs_control': the verdicts against the control instead (None where the report read none)."""
    try:
        report = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return None
    label = next((lb for lb, m, p in METHODS if _settings(m, p) == _settings(method, params)), None)
    entry = ((report.get("summary") or {}).get(name) or {}).get(label or "")
    n = int((entry or {}).get("n") or 0)
    if not n or not all(isinstance((entry.get(m) or {}).get(key), str) for m in MODES):
        return None
    return {m: entry[m][key] for m in MODES}, n


def phantom_case(seed: int, frames: int, size: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(x (1, T, 3, S, S), grey frames (T, S, S) uint8, labels (T, S, S)) of one test clip."""
    clip = render_beat(seed, "adult", frames, size)
    x = to_model_input(clip, frames=frames, size=size, channels=3)
    cropped = crop_to_sector(clip)
    resize = lambda stack, interp: np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in stack])
    labels = resize(cropped.truth.labels.astype(np.uint8), cv2.INTER_NEAREST).astype(np.int64)
    return x, resize(cropped.gray(), cv2.INTER_AREA), labels


def load(name: str):
    wrapper = model_zoo.load(name)
    folder = resolve(name)[0]
    probe = load_probe(folder, wrapper.device) if (folder / PROBE_CARD).is_file() else None
    return wrapper, probe


def run_clip(wrapper, probe, i: int, steps: int, out: Path | None) -> dict:
    grid, tubelet, patch = grid_of_wrapper(wrapper)
    frames, size = input_shape(wrapper)
    seed = SPLIT_SEEDS["test"] + i
    x, gray, labels = phantom_case(seed, frames, size)
    structures, sector = structure_mask(labels), labels > 0
    ef = EFForward(wrapper, probe) if probe is not None else None
    rand = random_aucs(ef.batched, x, grid, tubelet, patch, steps) if ef else None
    rec = {"model": wrapper.name, "clip": i, "seed": seed, "ef": float(ef.batched(x)[0]) if ef else None, "methods": {}}

    def scored(m: TokenMap, cpu: float) -> dict:
        """A map's focus scores on this clip and, with an EF probe, its deletion / insertion AUCs."""
        entry = {**focus_scores(m.frames(labels.shape, scale="max"), structures, sector).to_dict(), "cpu_s": cpu,
                 "info": {k: v for k, v in m.info.items() if isinstance(v, (int, float, str, list))}}
        if ef:
            f = faithfulness(ef.batched, x, m.values, grid, tubelet, patch, steps, random=rand)
            entry.update({f"{k}_{s}": f[k][s] for k in ("deletion", "insertion") for s in ("auc", "random_mean")})
        return entry

    for label, method, params in METHODS:
        if probe is None and (method in ("occlusion", "integrated_gradients") or params.get("readout") == "probe"):
            continue
        t0 = time.process_time()
        m = clip_map(wrapper, x, method, probe=probe, **params)
        rec["methods"][label] = scored(m, time.process_time() - t0)
        if out is not None and i == 0:
            slug = "".join(c if c.isalnum() else "_" for c in label).strip("_")
            write_overlay_strip(out / f"{wrapper.name}_{slug}.png", gray, m.frames(labels.shape))
    if ef:                                        # the control is read only against an EF
        rec["methods"][CONTROL] = scored(TokenMap(centre_map(grid, seed), "control", grid, tubelet, patch), 0.0)
    for alias, source in ALIASES.items():
        if source in rec["methods"]:
            rec["methods"][alias] = rec["methods"][source]
    return rec


def centre_map(grid: tuple[int, int, int], seed: int) -> np.ndarray:
    """(T', H', W') the control's map: a Gaussian over the token grid at the frame's middle (sigma a quarter of its
    side), the same in every time slot, its ties broken at random (seeded) so no time slot goes first."""
    t, h, w = grid
    yy, xx = np.mgrid[:h, :w]
    blob = np.exp(-(((yy - (h - 1) / 2) / (h / 4)) ** 2 + ((xx - (w - 1) / 2) / (w / 4)) ** 2) / 2)   # (H', W')
    jitter = 1e-6 * np.random.default_rng(seed).random((t, h, w))
    return (np.broadcast_to(blob, (t, h, w)) + jitter).astype(np.float32)


def _mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def summarise(records: list[dict]) -> dict:
    """{model: {method: {score: [mean, se], ..., 'deletion': {...}, 'insertion': {...}}}}"""
    out: dict = {}
    for model in dict.fromkeys(r["model"] for r in records):
        rows = [r for r in records if r["model"] == model]
        paired = all(CONTROL in r["methods"] for r in rows)           # every clip read the control too
        out[model] = {}
        for method in rows[0]["methods"]:
            per = [r["methods"][method] for r in rows]
            s = {k: _mean_se([p[k] for p in per]) for k in SCORES}
            s["n"] = len(per)
            s["cpu_s"] = _mean_se([p["cpu_s"] for p in per])
            for curve in ("deletion", "insertion"):
                if f"{curve}_auc" not in per[0]:
                    continue
                diff = [p[f"{curve}_auc"] - p[f"{curve}_random_mean"] for p in per]
                m, se = _mean_se(diff)
                better = m > 2 * se if curve == "deletion" else m < -2 * se
                s[curve] = {"auc": _mean_se([p[f"{curve}_auc"] for p in per]),
                            "random": _mean_se([p[f"{curve}_random_mean"] for p in per]),
                            "difference": [m, se], "verdict": BETTER if better else NOT_BETTER}
                if paired and method != CONTROL:                       # the same rule, paired clip by clip
                    m, se = _mean_se([p[f"{curve}_auc"] - r["methods"][CONTROL][f"{curve}_auc"]
                                      for p, r in zip(per, rows)])
                    beats = m > 2 * se if curve == "deletion" else m < -2 * se
                    s[curve].update({"difference_to_control": [m, se],
                                     "vs_control": BEATS_CONTROL if beats else NOT_CONTROL})
            out[model][method] = s
    return out


def markdown(summary: dict, meta: dict) -> str:
    f = lambda ms, d=3: plus_minus(*ms, digits=d)
    lines = [f"# Anatomy focus and faithfulness, JEPA vs MAE ({meta['n']} phantom test clips)", "",
             f"`{meta['command']}`: {meta['wall_s']:.0f} s wall, {meta['threads']} torch thread(s), {meta['device']}. "
             f"Clips: test seeds {meta['seeds']}. Mean ± standard error over clips. Focus inside the sector; "
             "chance = the structures' share of the sector's area. Deletion / insertion: area under "
             f"|EF change| (EF points) over the share of tubelets removed / inserted ({meta['steps']} steps), "
             "vs random orders (3 seeds); deletion higher and insertion lower is better. Against the control (a map "
             "of the frame's middle, the same for every clip; random orders follow no place in the clip, so any "
             "map that favours one can beat them): the same rule, paired clip by clip.", "",
             "| model | method | focus share | chance | ratio | energy PG | pointing game | deletion AUC | random | "
             "verdict | insertion AUC | random | verdict | against the control (deletion / insertion) | "
             "CPU s / clip |", "|" + "---|" * 15]
    for model, methods in summary.items():
        for method, s in methods.items():
            row = [model, method, f(s["focus_share"]), f(s["chance_share"]), f(s["ratio"], 2),
                   f(s["energy_pointing_game"]), f(s["pointing_game"], 2)]
            for curve in ("deletion", "insertion"):
                c = s.get(curve)
                row += [f(c["auc"], 2), f(c["random"], 2), c["verdict"]] if c else ["-", "-", "no probe"]
            versus = [(s.get(c) or {}).get("vs_control") for c in ("deletion", "insertion")]
            row += [" / ".join(versus) if all(versus) else "-", f"{s['cpu_s'][0]:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24, help="phantom test clips (default 24)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--models", nargs="+", default=["jepa-small", "mae-small"])
    ap.add_argument("--steps", type=int, default=10, help="deletion / insertion steps (default 10)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--summarise-only", action="store_true", help="rebuild the report from records.jsonl")
    args = ap.parse_args(argv)
    if args.n < 2:
        raise SystemExit("--n must be at least 2 (standard errors need two clips).")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "records.jsonl"
    start, old = time.time(), {}
    if args.summarise_only:
        report = args.out / "focus_report.json"
        old = json.loads(report.read_text())["meta"] if report.exists() else {}
    else:
        path.write_text("")
        models = {name: load(name) for name in args.models}
        old["device"] = str(next(iter(models.values()))[0].device)
        for i in range(args.n):
            for name, (wrapper, probe) in models.items():
                rec = run_clip(wrapper, probe, i, args.steps, args.out)
                with path.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            print(f"clip {i + 1}/{args.n} done, {time.time() - start:.0f} s", flush=True)
        old["wall_s"] = time.time() - start
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    n = len({r["clip"] for r in records})
    meta = {"n": n, "steps": args.steps, "threads": args.threads, "wall_s": old.get("wall_s", float("nan")),
            "device": old.get("device", "unknown"), "seeds": f"{SPLIT_SEEDS['test']}..{SPLIT_SEEDS['test'] + n - 1}",
            "command": f"python -m explain.focus_report --n {args.n} --out {args.out}"}
    summary = summarise(records)
    (args.out / "focus_report.json").write_text(json.dumps({"meta": meta, "summary": summary}, indent=1))
    (args.out / "focus_report.md").write_text(markdown(summary, meta))
    print(markdown(summary, meta))


if __name__ == "__main__":
    main()
