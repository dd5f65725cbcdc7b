"""Which models EchoLens can load: the shipped ones (folders under model_zoo/checkpoints/) and any
model folder, checkpoint file, or folder of them, the user points at; and a plain-text table of them."""
from __future__ import annotations

from pathlib import Path

from model_zoo.checkpoint import family_of, read_card, read_config
from model_zoo.convert.describe import describe_file
from model_zoo.convert.detect import checkpoint_name, is_checkpoint_file
from model_zoo.convert.hf import is_folder, parse_config, weight_files
from model_zoo.convert.infer import check_geometry
from model_zoo.masks import clip_shape

SHIPPED = Path(__file__).resolve().parent / "checkpoints"
# '-': listed with the reason it cannot load, offered in no model slot
FAMILY_OF_FORMAT = {"vjepa2-native": "jepa", "vjepa1-native": "-", "videomae-native": "mae", "vjepa-probe": "probe"}


def _found(root: Path) -> list[Path]:
    """root itself if it is a model folder or checkpoint file, else its model subfolders and checkpoint files."""
    if is_folder(root) or is_checkpoint_file(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if is_folder(p) or is_checkpoint_file(p))


def architecture(config: dict) -> str:
    """One line: encoder size, input and token grid, plus the predictor or decoder."""
    frames, size = clip_shape(config)
    if config["model_type"] == "vjepa2":
        head = (f"predictor {config['pred_hidden_size']}d x {config['pred_num_hidden_layers']}"
                if config.get("pred_num_hidden_layers") else "no predictor")
    else:
        head = (f"decoder {config['decoder_hidden_size']}d x {config['decoder_num_hidden_layers']}"
                if "VideoMAEForPreTraining" in (config.get("architectures") or []) else "encoder only")
    p, t = config["patch_size"], config["tubelet_size"]
    grid = (frames // t, size // p, size // p)
    return (f"ViT {config['hidden_size']}d x {config['num_hidden_layers']} layers, "
            f"{config['num_attention_heads']} heads; {frames} frames x {size} px, patch {p}, tubelet {t}, "
            f"grid {grid[0]}x{grid[1]}x{grid[2]}; {head}")


def under_shipped(path: str | Path) -> bool:
    """A folder or file under model_zoo/checkpoints/: one this repository ships (or inside one)."""
    return SHIPPED.resolve() in Path(path).resolve().parents     # the folder itself may be a link


def _source(path: Path) -> str:
    return "shipped" if under_shipped(path) else "local"


def assumed_notes(card: dict | None) -> list[str]:
    """What a checkpoint's conversion assumed because the checkpoint does not store it (frames, size, heads...)."""
    return [n for n in ((card or {}).get("conversion") or {}).get("notes") or [] if "assumed" in n]


def assumed_mark(notes: list[str], when: str = "") -> str:
    """' (frames 16 assumed, 3 heads assumed for width 192{when})' for an architecture line: the notes that say what
    was assumed, each up to its reason; '' when nothing was."""
    assumed = [n.split(" (")[0] for n in notes if "assumed" in n]
    return f" ({', '.join(assumed)}{when})" if assumed else ""


# what an odd file or folder in a models folder raises while it is described: it is listed with the reason, and the
# list (the page's model boxes, built with it) goes on; a KeyError or TypeError from a layout no converter expected too
UNREADABLE = (ValueError, OSError, KeyError, TypeError, AttributeError, IndexError)


def describe(folder: Path) -> dict:
    """name, family, architecture, format, source, path (and method/recipe/steps when the folder has a card).
    A folder whose config or card cannot be read is listed with the reason, as a bad checkpoint file is."""
    name = folder.name
    try:
        card = read_card(folder) or {}                   # read once: its name is the one resolve finds it by
        name = _card_name(folder, card)
        raw = read_config(folder)
        family = family_of(raw)
        config = parse_config(family, raw, "its config").to_dict()                  # + defaults
        check_geometry(config, family, "its config")                 # before architecture() divides by its patch
        arch = architecture(config)
        weight_files(folder, test_read=False)           # present, sizes within the cap, safetensors headers whole
    except UNREADABLE as e:
        why = str(e)
        return {"name": name, "family": "-", "architecture": f"cannot load: {why}", "format": "-",
                "source": _source(folder), "path": str(folder)}
    arch += assumed_mark(assumed_notes(card), " on conversion")                  # an exported folder keeps the mark
    entry = {"name": name, "family": family,
             "architecture": arch, "format": "echolens-folder" if card else "hf-folder",
             "source": _source(folder), "path": str(folder)}
    entry.update({k: card[k] for k in ("method", "recipe", "steps") if k in card})
    return entry


def describe_checkpoint(path: Path) -> dict:
    """A checkpoint file's entry, from its key layout and tensor shapes (no model is built). A file
    that cannot be read or converted is listed with the reason in place of its architecture."""
    entry = {"name": checkpoint_name(path), "family": "-", "architecture": "", "format": "-",
             "source": "local", "path": str(path)}
    try:
        fmt, arch = describe_file(path)
        entry.update(family=FAMILY_OF_FORMAT[fmt], architecture=arch, format=fmt)
    except UNREADABLE as e:
        entry["architecture"] = f"cannot load: {e}"
    return entry


def list_models(extra_dirs: tuple[str | Path, ...] | list[str | Path] = ()) -> list[dict]:
    """Shipped models first, then the folders and checkpoint files found in extra_dirs, one dict each
    (name, family 'jepa'|'mae'|'probe'|'-', architecture, format, source, path)."""
    return [describe(f) if f.is_dir() else describe_checkpoint(f) for f in _candidates(extra_dirs)]


def _candidates(extra_dirs: tuple[str | Path, ...] | list[str | Path]) -> list[Path]:
    """The shipped model folders, then the folders and checkpoint files found in extra_dirs, each once (a folder
    given twice, or the shipped one again, once), in list_models' order."""
    firsts = {}
    for f in _found(SHIPPED) + [f for d in extra_dirs for f in _found(Path(d))]:
        firsts.setdefault(f.resolve(), f)
    return list(firsts.values())


def _name(path: Path) -> str:
    """The name a candidate is listed and resolved by: a model folder's card name, else its folder name; a checkpoint
    file's name without its suffix. Reads card.json alone, so naming every candidate stays quick."""
    if not path.is_dir():
        return checkpoint_name(path)
    try:
        return _card_name(path, read_card(path) or {})
    except UNREADABLE:                          # listed by its folder name with the reason, as describe lists it
        return path.name


def _card_name(folder: Path, card: dict) -> str:
    return card.get("name") or folder.name


def format_models(entries: list[dict]) -> str:
    """A plain-text table: name, family, architecture, source/format, path (one row per entry)."""
    if not entries:
        return "no models found"
    header = ("name", "family", "architecture", "source/format", "path")
    rows = [(e["name"], e["family"], e["architecture"], f"{e.get('source', '-')}/{e.get('format', '-')}", e["path"])
            for e in entries]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[-1]))
    return "\n".join(lines)


def resolve(name_or_path: str | Path, extra_dirs: tuple[str | Path, ...] | list[str | Path] = ()) -> tuple[Path, str]:
    """(path, name) for a model folder path, a checkpoint file path, or a registry name."""
    path = Path(name_or_path).expanduser()
    if is_folder(path):
        return path, _card_name(path, read_card(path) or {})
    if path.is_file():
        return path, checkpoint_name(path)
    if path.is_dir():                               # a folder, not a model folder: say so, and what it holds
        inside = _found(path)
        if (path / "model.safetensors").is_file() or any(path.glob("model-*.safetensors")):
            holds = "; it holds model.safetensors: put the config.json saved with it back beside it"
        else:
            holds = (f"; it holds {', '.join(p.name for p in inside[:5])}{' ...' if len(inside) > 5 else ''}: give "
                     "one of those" if inside else "")
        raise FileNotFoundError(f"{name_or_path} is a folder without config.json, so not a model folder{holds}")
    named = [(_name(p), p) for p in _candidates(extra_dirs)]     # by name alone: describing each reads its weights
    for name, found in named:
        if name == str(name_or_path):
            return found, name
    known = ", ".join(name for name, _ in named) or "none"
    raise FileNotFoundError(f"no model folder, checkpoint file or registered model named {name_or_path!r} (known: {known})")
