"""Which two models the page compares: the shipped pair by default, any model the registry finds, or
a local path typed in; and the device they run on."""
from __future__ import annotations

from app.error_text import error_text
from app.server_paths import server_path
from explain.analysis.pair import DEFAULT_MODELS, ROLES, LoadedModel, frames_for, load_model
from model_zoo.cost import advice
from model_zoo.registry import assumed_notes, list_models

CPU_BUDGET_S = 10.0      # one forward pass over this on the CPU earns a warning and a smaller offer


def model_choices(family: str, extra_dirs: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(label, value) for a dropdown: models of one family, shipped first (value: the registry name),
    then those in extra_dirs (value: their path, so two folders may hold models of one name)."""
    return [(m["name"] if m.get("source") == "shipped" else f"{m['name']} ({m['path']})",
             m["name"] if m.get("source") == "shipped" else m["path"])
            for m in list_models(extra_dirs) if m["family"] == family]


def pick(choice: str | None, path: str | None, role: str) -> str:
    """A typed local path wins over the dropdown (where the server lets the page read it: app.server_paths);
    neither gives the shipped default."""
    if (path or "").strip():
        return str(server_path(path, f"The {role.upper()} checkpoint path"))
    return choice or DEFAULT_MODELS[role]


def current_pair(jepa_choice: str | None = None, mae_choice: str | None = None,
                 jepa_path: str | None = None, mae_path: str | None = None,
                 frames: int | None = None) -> dict[str, LoadedModel]:
    """frames ('Frames for large checkpoints'; 0/None: their own): input frames for every model the user brings,
    picked in a dropdown (a --models folder's) or typed as a path; the shipped models keep theirs (pair.frames_for)."""
    chosen = {"jepa": pick(jepa_choice, jepa_path, "jepa"), "mae": pick(mae_choice, mae_path, "mae")}
    pair = {}
    for role in ROLES:
        try:
            pair[role] = load_model(chosen[role], role, None, frames_for(chosen[role], frames))
        except (ValueError, OSError, KeyError, NotImplementedError) as e:     # the page says which box failed
            raise ValueError(f"{role.upper()} model '{chosen[role]}': {_sentence(e)}") from e
    return pair


def _sentence(error: Exception) -> str:
    """A loader's message, ending with a full stop (its first word may be a file name: its case is kept)."""
    text = error_text(error).strip()
    return text if text.endswith((".", "!", "?")) or not text else text + "."


def speed_warning(model: LoadedModel, budget_s: float = CPU_BUDGET_S) -> str | None:
    """A warning with a smaller frame count when one forward pass would take over budget_s on the CPU."""
    if model.wrapper.device.type != "cpu":
        return None
    a = advice(model.wrapper, budget_s=budget_s)
    if not a["slow"]:
        return None
    return (f"⚠️ {model.name} is slow on this CPU ({a['message']}). Every view runs it several times: "
            f"set 'Frames for large checkpoints' to {a['suggested_frames']} and press 'Use these models'.")


KEPT_FRAMES = ("Kept its own {own} frames, not the {asked} asked: 'Frames for large checkpoints' applies to the "
               "models you bring, not the shipped ones (quick on a CPU; their beat-view probe and recorded figures "
               "hold at their own count).")


def describe_pair(pair: dict[str, LoadedModel], asked_frames: int | None = None) -> str:
    """Markdown: each model's name, family, architecture in a line, probe, and the device; what a converted
    checkpoint's loading assumed (frames, size, heads), which the user may need to correct; with asked_frames (the
    box's value), which model kept its own frame count (a shipped one) rather than leave the box seemingly ignored."""
    lines = []
    for role, m in pair.items():
        c = m.wrapper.config
        frames, size = m.input_shape
        if m.probe is not None:
            probe = "EF probe shipped" + (" (and the beat view's)" if m.beat_probe is not None else "")
        else:
            probe = ("the beat view's EF probe only (no attentive probe)" if m.beat_probe is not None else
                     "no EF probe (EF views are empty)")
        trained = "; learned from the phantom" if m.phantom_trained else ""
        lines.append(f"- **{role.upper()}**: `{m.name}` ({m.family}), ViT {c.hidden_size}d x {c.num_hidden_layers}, "
                     f"{frames} frames x {size} px; {probe}{trained}; device **{m.wrapper.device}**")
        assumed = assumed_notes(m.wrapper.card)
        if assumed:
            lines.append(f"  - Assumed on conversion (the checkpoint does not store it): {'; '.join(assumed)}.")
        if asked_frames and m.frames_override is None and int(asked_frames) != frames:   # a shipped model (frames_for)
            lines.append(f"  - {KEPT_FRAMES.format(own=frames, asked=int(asked_frames))}")
        warning = speed_warning(m)
        if warning:
            lines.append(f"  - {warning}")
    return "\n".join(lines)
