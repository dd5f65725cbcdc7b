"""Which models EchoLens can load: the shipped ones (folders under model_zoo/checkpoints/) and any
model folder, or folder of model folders, the user points at."""
from __future__ import annotations

from pathlib import Path

from model_zoo.checkpoint import family_of, read_card, read_config

SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def _model_folders(root: Path) -> list[Path]:
    """root itself if it is a model folder (has config.json), else its model subfolders."""
    if (root / "config.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def architecture(config: dict) -> str:
    """One line: encoder size, input and token grid, plus the predictor or decoder."""
    if config["model_type"] == "vjepa2":
        frames, size = config["frames_per_clip"], config["crop_size"]
        head = f"predictor {config['pred_hidden_size']}d x {config['pred_num_hidden_layers']}"
    else:
        frames, size = config["num_frames"], config["image_size"]
        head = f"decoder {config['decoder_hidden_size']}d x {config['decoder_num_hidden_layers']}"
    p, t = config["patch_size"], config["tubelet_size"]
    grid = (frames // t, size // p, size // p)
    return (f"ViT {config['hidden_size']}d x {config['num_hidden_layers']} layers, "
            f"{config['num_attention_heads']} heads; {frames} frames x {size} px, patch {p}, tubelet {t}, "
            f"grid {grid[0]}x{grid[1]}x{grid[2]}; {head}")


def describe(folder: Path) -> dict:
    """name, family, architecture, path (and method/recipe/steps when the folder has a card)."""
    config, card = read_config(folder), read_card(folder) or {}
    entry = {"name": card.get("name") or folder.name, "family": family_of(config),
             "architecture": architecture(config), "path": str(folder)}
    entry.update({k: card[k] for k in ("method", "recipe", "steps") if k in card})
    return entry


def list_models(extra_dirs: tuple[str | Path, ...] | list[str | Path] = ()) -> list[dict]:
    """Shipped models first, then those found in extra_dirs, one dict each (see describe)."""
    folders = _model_folders(SHIPPED) + [f for d in extra_dirs for f in _model_folders(Path(d))]
    return [describe(f) for f in folders]


def resolve(name_or_path: str | Path, extra_dirs: tuple[str | Path, ...] | list[str | Path] = ()) -> tuple[Path, str]:
    """(folder, name) for a model folder path or a registry name."""
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        card = read_card(path) or {}
        return path, card.get("name") or path.name
    for entry in list_models(extra_dirs):
        if entry["name"] == str(name_or_path):
            return Path(entry["path"]), entry["name"]
    known = ", ".join(e["name"] for e in list_models(extra_dirs)) or "none"
    raise FileNotFoundError(f"no model folder or registered model named {name_or_path!r} (known: {known})")
