"""Convert a checkpoint once, and bring its EF probe: any checkpoint model_zoo.load reads, written as a model folder
(config.json + model.safetensors + card.json) with a V-JEPA evaluation probe beside it in EchoLens's format, so
the app's model boxes load it in under a second and predict EF with it (they take no probe of their own).

    python -m model_zoo.convert.export CHECKPOINT --out FOLDER [--probe PROBE --ef-mean M --ef-std S]
                                       [--encoder target|context] [--frames N] [--size N] [--heads N]

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
from model_zoo.probe_io import PROBE, save_probe


def export(checkpoint: str | Path, out: str | Path, probe: str | Path | None = None,
           ef_mean: float | None = None, ef_std: float | None = None, encoder: str = "target",
           overrides: dict | None = None) -> Path:
    """Write the converted model (and its probe) to the new folder `out`; ValueError before writing anything
    when the folder is not empty, a probe comes without its EF scale, or the checkpoint cannot be converted."""
    import model_zoo
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: export writes a new model folder")
    if probe is not None and (ef_mean is None or ef_std is None or ef_std <= 0):
        raise ValueError("a probe needs the EF mean and std of its training targets (--ef-mean, --ef-std > 0; "
                         "0 and 1 for a probe that predicts EF % directly)")
    overrides = dict(overrides or {}, **({"ef_mean": ef_mean, "ef_std": ef_std} if probe is not None else {}))
    wrapper = model_zoo.load(checkpoint, device="cpu", encoder=encoder, overrides=overrides or None, probe=probe)
    out.mkdir(parents=True, exist_ok=True)
    try:
        _write(wrapper, out, checkpoint, probe)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)                            # no half-written model folder
        raise
    return out


def _write(wrapper, out: Path, checkpoint, probe) -> None:
    wrapper.net.save_pretrained(out)                                      # config.json + model.safetensors
    if wrapper.context_encoder is not None:
        state = {k: v.detach().contiguous() for k, v in wrapper.context_encoder.state_dict().items()}
        save_file(state, str(out / CONTEXT_ENCODER))
    card = {**wrapper.card, "name": out.name, "source": str(checkpoint),
            "exported_by": "python -m model_zoo.convert.export"}
    (out / CARD).write_text(json.dumps(card, indent=1))
    if wrapper.probe is not None:
        save_probe(wrapper.probe, out, {"source": str(probe), "converted_from": "V-JEPA evaluation probe"}, PROBE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.convert.export", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a checkpoint file or Hugging Face folder model_zoo.load reads")
    ap.add_argument("--out", required=True, help="the new model folder")
    ap.add_argument("--probe", help="a V-JEPA evaluation attentive probe (.pt / .pth.tar) of this encoder")
    ap.add_argument("--ef-mean", type=float, help="mean EF (%%) of the probe's training targets")
    ap.add_argument("--ef-std", type=float, help="std of EF (%%) of the probe's training targets")
    ap.add_argument("--encoder", default="target", choices=("target", "context"), help="JEPA: which encoder")
    for key in ("frames", "size", "heads"):
        ap.add_argument(f"--{key}", type=int, help=f"override the {key} the checkpoint does not store")
    args = ap.parse_args(argv)
    overrides = {k: getattr(args, k) for k in ("frames", "size", "heads") if getattr(args, k)}
    try:
        out = export(args.checkpoint, args.out, args.probe, args.ef_mean, args.ef_std, args.encoder, overrides)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{out}: load it in the app's model box, or python app.py --models {out.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
