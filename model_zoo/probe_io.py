"""EF probes on disk: saved beside their encoder as probe.safetensors + probe.json (the beat view's as
beat_probe.safetensors + beat_probe.json), loaded safely (safetensors, a card refused by name when damaged)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from model_zoo.checkpoint import read_json
from model_zoo.convert.safety import read_safetensors
from model_zoo.probe_inputs import BeatInputs, Standardise
from model_zoo.probes import MAX_BLOCKS, BeatProbe, ProbeHead

MAX_DIM, MAX_MLP_RATIO = 8192, 16    # a probe card's widest tokens (a beat view's of ViT-g: 2 x 1408) and MLP
PROBE = "probe"                      # file stem of the attentive probe beside an encoder
BEAT_PROBE = "beat_probe"            # file stem of the beat view's probe
KIND = {PROBE: "attentive", BEAT_PROBE: "beat"}
PROBE_WEIGHTS, PROBE_CARD = f"{PROBE}.safetensors", f"{PROBE}.json"
BEAT_PROBE_WEIGHTS, BEAT_PROBE_CARD = f"{BEAT_PROBE}.safetensors", f"{BEAT_PROBE}.json"


def probe_files(model_dir: str | Path, stem: str = PROBE) -> tuple[Path, Path]:
    """(weights, card) of the probe saved under `stem` (PROBE or BEAT_PROBE) beside an encoder."""
    if stem not in KIND:
        raise ValueError(f"unknown probe {stem!r}; known: {', '.join(KIND)}")
    return Path(model_dir) / f"{stem}.safetensors", Path(model_dir) / f"{stem}.json"


def save_probe(probe: ProbeHead | BeatProbe, model_dir: str | Path, meta: dict, stem: str = PROBE) -> Path:
    """Write <stem>.safetensors and <stem>.json (kind, dim, heads, mlp_ratio, ef_mean, ef_std, for a
    BeatProbe t_slots, + meta) into model_dir; stem PROBE takes a ProbeHead, BEAT_PROBE a BeatProbe."""
    kind = "beat" if isinstance(probe, BeatProbe) else "attentive"
    if KIND.get(stem) != kind:
        raise ValueError(f"{'an' if kind == 'attentive' else 'a'} {kind} probe cannot be saved as {stem!r}")
    weights, card_path = probe_files(model_dir, stem)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in probe.state_dict().items()}
    save_file(state, str(weights))
    card = {"kind": kind, **probe.config(), "ef_mean": probe.ef_mean.item(), "ef_std": probe.ef_std.item(), **meta}
    card_path.write_text(json.dumps(card, indent=1))
    return card_path


def load_probe(model_dir: str | Path, device: str | torch.device = "cpu", stem: str = PROBE) -> ProbeHead | BeatProbe:
    """The probe saved beside an encoder under `stem`, in eval mode, its card in `.meta`: PROBE gives the
    attentive probe (a ProbeHead), BEAT_PROBE the beat view's (a BeatProbe); a card of another kind is refused."""
    weights, card_path = probe_files(model_dir, stem)
    meta = read_json(card_path, required=("kind", "dim", "heads", "mlp_ratio"))
    if meta.get("kind") != KIND[stem]:
        raise ValueError(f"{card_path}: unsupported probe kind {meta.get('kind')!r} (expected {KIND[stem]!r})")
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0               # noqa: E731
    if not (whole(meta["dim"]) and whole(meta["heads"]) and isinstance(meta["mlp_ratio"], (int, float))
            and meta["mlp_ratio"] > 0):
        raise ValueError(f"{card_path}: dim {meta['dim']!r} and heads {meta['heads']!r} must be positive whole numbers, "
                         f"mlp_ratio {meta['mlp_ratio']!r} a positive number")
    if meta["dim"] > MAX_DIM or meta["dim"] % meta["heads"] or meta["mlp_ratio"] > MAX_MLP_RATIO:
        raise ValueError(f"{card_path}: dim {meta['dim']} (at most {MAX_DIM}) must split into its {meta['heads']} "
                         f"heads, and mlp_ratio {meta['mlp_ratio']} be at most {MAX_MLP_RATIO}: no probe is that shape "
                         "(a card edited, or another file's); building it would take the server's memory")
    blocks = meta.get("blocks", 0)                            # a converted V-JEPA 2 probe's, before its query
    if not (blocks == 0 or whole(blocks)) or blocks > MAX_BLOCKS:
        raise ValueError(f"{card_path}: blocks {blocks!r} must be a whole number from 0 to {MAX_BLOCKS}")
    probe = ProbeHead(meta["dim"], meta["heads"], meta["mlp_ratio"], blocks=blocks)
    if stem == BEAT_PROBE:
        if not whole(meta.get("t_slots")) or meta["dim"] % 2:
            raise ValueError(f"{card_path}: a beat probe needs t_slots (a positive whole number; "
                             f"{meta.get('t_slots')!r} given) and an even dim")
        width = meta["dim"]                                   # 2D: each token beside its change
        probe = BeatProbe(BeatInputs(meta["t_slots"], Standardise(torch.zeros(width), torch.ones(width))), probe)
    try:
        probe.load_state_dict(read_safetensors(weights))
    except RuntimeError as e:                   # shapes the card promised and the weights do not have
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise ValueError(f"{weights.name} does not fit {card_path.name} beside it ({first.strip()}); the two were "
                         "written apart, or one was edited") from None
    probe.meta = meta
    return probe.to(device).eval()


def check_probe_fits(probe: ProbeHead | BeatProbe, model_dir: str | Path, stem: str, name: str, family: str,
                     width: int) -> None:
    """Refuse, naming its card, a probe saved beside an encoder it cannot read: fitted on another encoder (its card's
    `encoder` / `family` say so: its EFs and recorded errors would be that encoder's), or reading tokens of another
    width than the encoder's `width` (the beat view's probe reads each token beside its change: twice the width)."""
    card_path = probe_files(model_dir, stem)[1]
    meta = getattr(probe, "meta", None) or {}
    fitted_on = {k: meta[k] for k in ("encoder", "family") if meta.get(k) is not None}
    this = {"encoder": name, "family": family}
    wrong = [k for k in fitted_on if fitted_on[k] != this[k]]
    if wrong:
        raise ValueError(f"{card_path}: this probe was fitted on {fitted_on.get('encoder', 'another encoder')!r} "
                         f"({fitted_on.get('family', '?')}), not on {name!r} ({family}) beside it: a probe reads only "
                         f"the encoder it was fitted on. Put back {name}'s own {card_path.stem} files, or remove them "
                         "to load the encoder without this probe.")
    need = width * (2 if stem == BEAT_PROBE else 1)
    if meta.get("dim") is not None and meta["dim"] != need:
        raise ValueError(f"{card_path}: this probe reads {meta['dim']}-d tokens; {name} makes {width}-d tokens"
                         f"{' (its beat view: ' + str(need) + '-d, each token beside its change)' if stem == BEAT_PROBE else ''}"
                         ": it was fitted on another encoder.")
