"""Convert a checkpoint once, and bring its EF probe: any checkpoint model_zoo.load reads, written as a model folder
(config.json + model.safetensors + card.json) with a V-JEPA evaluation probe beside it in EchoLens's format, so
the app's model boxes load it in under a second and predict EF with it (they take no probe of their own).

    python -m model_zoo.convert.export CHECKPOINT --out FOLDER [--probe PROBE --ef-mean M --ef-std S]
                                       [--encoder target|context] [--frames N] [--size N] [--heads N]
                                       [--probe-index K] [--probe-heads N]

A V-JEPA probe predicts whatever it was trained on (EchoJEPA's: EF z-scored), so a probe needs the EF mean and
std of its training targets (0 and 1 for a probe that predicts EF % directly): EchoLens will not guess them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from safetensors.torch import save_file

from model_zoo.checkpoint import CARD, CONTEXT_ENCODER
from model_zoo.convert.probe import check_ef_scale
from model_zoo.probe_io import PROBE, save_probe


SHAPE_OVERRIDES = ("frames", "size", "heads", "pred_heads", "decoder_heads")   # what a checkpoint may not store


def export(checkpoint: str | Path, out: str | Path, probe: str | Path | None = None,
           ef_mean: float | None = None, ef_std: float | None = None, encoder: str = "target",
           overrides: dict | None = None) -> Path:
    """Write the converted model (and its probe) to the new folder `out`; ValueError before writing anything
    when `out` is a file or a folder in use, the checkpoint is already a model folder with a card, a probe's EF
    scale is missing or not in %, or the checkpoint cannot be converted. A failed write removes what it made."""
    import model_zoo
    from model_zoo.checkpoint import read_card
    from model_zoo.registry import resolve
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} is {'a file' if not out.is_dir() else 'not empty'}: export writes a new model folder")
    source = resolve(checkpoint)[0]
    if source.is_dir() and read_card(source) is not None:
        raise ValueError(f"{source} is already a model folder EchoLens loads (it has a card.json): nothing to export")
    if probe is not None:
        check_ef_scale(ef_mean, ef_std)
    elif ef_mean is not None or ef_std is not None:
        raise ValueError("--ef-mean and --ef-std describe a probe: give its file with --probe")
    overrides = dict(overrides or {}, **({"ef_mean": ef_mean, "ef_std": ef_std} if probe is not None else {}))
    wrapper = model_zoo.load(checkpoint, device="cpu", encoder=encoder, overrides=overrides or None, probe=probe)
    made = [p for p in (out, *out.parents) if not p.exists()]          # out and the parents this export creates
    out.mkdir(parents=True, exist_ok=True)
    try:
        _write(wrapper, out, checkpoint, probe, encoder, overrides.get("probe_index", 0))
    except BaseException:
        if made:
            shutil.rmtree(made[-1], ignore_errors=True)                   # the highest folder it created, and below
        else:                                                             # the user's empty folder: empty it again
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return out


def _write(wrapper, out: Path, checkpoint, probe, encoder: str, probe_index: int) -> None:
    wrapper.net.save_pretrained(out)                                      # config.json + model.safetensors
    if wrapper.context_encoder is not None:
        state = {k: v.detach().contiguous() for k, v in wrapper.context_encoder.state_dict().items()}
        save_file(state, str(out / CONTEXT_ENCODER))
    card = {**wrapper.card, "name": out.name, "source": str(checkpoint),
            "exported_by": "python -m model_zoo.convert.export"}
    if wrapper.family == "jepa":                   # the encoder chosen is the one the folder reads clips through
        card["recipe_settings"] = {**(card.get("recipe_settings") or {}), "jepa_readout": encoder}
    (out / CARD).write_text(json.dumps(card, indent=1))
    if wrapper.probe is not None:
        save_probe(wrapper.probe, out, {"source": str(probe), "probe_index": probe_index,
                                        "converted_from": "V-JEPA evaluation probe"}, PROBE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.convert.export", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a checkpoint file or Hugging Face folder model_zoo.load reads")
    ap.add_argument("--out", required=True, help="the new model folder")
    ap.add_argument("--probe", help="a V-JEPA evaluation attentive probe (.pt / .pth.tar) of this encoder, or a "
                                    "VJEPA2ForVideoClassification folder (the checkpoint itself) whose head reads EF")
    ap.add_argument("--ef-mean", type=float, help="mean EF (%%) of the probe's training targets")
    ap.add_argument("--ef-std", type=float, help="std of EF (%%) of the probe's training targets")
    ap.add_argument("--encoder", default="target", choices=("target", "context"), help="JEPA: which encoder")
    ap.add_argument("--probe-index", type=int, help="which classifier of a V-JEPA 2 probe sweep file "
                                                                  "(the best on val in its evaluation log)")
    ap.add_argument("--probe-heads", type=int, help="the probe's attention heads (a sweep's: 16 assumed, V-JEPA 2's "
                                                    "evaluation default; V-JEPA's: the encoder's)")
    for key in SHAPE_OVERRIDES:
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"override the {key} the checkpoint does not store")
    args = ap.parse_args(argv)
    overrides = {k: getattr(args, k) for k in SHAPE_OVERRIDES if getattr(args, k) is not None}
    bad = [k for k, v in overrides.items() if v < 1]
    if bad:
        print(f"error: --{bad[0].replace('_', '-')} {overrides[bad[0]]}: give a positive whole number", file=sys.stderr)
        return 2
    given = {k: getattr(args, k) for k in ("probe_index", "probe_heads") if getattr(args, k) is not None}
    if given and not args.probe:
        print(f"error: --{next(iter(given)).replace('_', '-')} describes --probe's file; no --probe was given",
              file=sys.stderr)
        return 2
    if given.get("probe_index", 0) < 0 or given.get("probe_heads", 1) < 1:
        print("error: --probe-index counts from 0 and --probe-heads from 1: give a whole number", file=sys.stderr)
        return 2
    overrides.update(given)
    try:
        out = export(args.checkpoint, args.out, args.probe, args.ef_mean, args.ef_std, args.encoder, overrides)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{out}: load it in the app's model box, or python app.py --models {out.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
