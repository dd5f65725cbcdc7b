"""Which two models the page compares: the shipped pair by default, any model the registry finds, or
a local path typed in; and the device they run on."""
from __future__ import annotations

from explain.analysis.pair import DEFAULT_MODELS, LoadedModel, load_pair
from model_zoo.registry import list_models


def model_choices(family: str, extra_dirs: tuple[str, ...] = ()) -> list[str]:
    """Registry names of one family (shipped first), for a dropdown."""
    return [m["name"] for m in list_models(extra_dirs) if m["family"] == family]


def pick(choice: str | None, path: str | None, role: str) -> str:
    """A typed local path wins over the dropdown; neither gives the shipped default."""
    return (path or "").strip() or choice or DEFAULT_MODELS[role]


def current_pair(jepa_choice: str | None = None, mae_choice: str | None = None,
                 jepa_path: str | None = None, mae_path: str | None = None) -> dict[str, LoadedModel]:
    return load_pair(pick(jepa_choice, jepa_path, "jepa"), pick(mae_choice, mae_path, "mae"))


def describe_pair(pair: dict[str, LoadedModel]) -> str:
    """Markdown: each model's name, family, architecture in a line, probe, and the device."""
    lines = []
    for role, m in pair.items():
        c = m.wrapper.config
        frames, size = m.input_shape
        probe = "EF probe shipped" if m.probe is not None else "no EF probe (EF views are empty)"
        trained = "; learned from the phantom" if m.phantom_trained else ""
        lines.append(f"- **{role.upper()}**: `{m.name}` ({m.family}), ViT {c.hidden_size}d x {c.num_hidden_layers}, "
                     f"{frames} frames x {size} px; {probe}{trained}; device **{m.wrapper.device}**")
    return "\n".join(lines)
