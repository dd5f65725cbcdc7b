"""The page's event functions: each takes the values of its inputs (the clip's key, the models' state, the
controls), calls one view module (app/views/) and returns its outputs in the order app.layout wires them.
Errors become messages in the page (app.errors.shows_errors); progress goes to the page's bar."""
from __future__ import annotations

import gradio as gr

from app.errors import clears_on_error, shows_errors
from app.views import attention, audit, cycle, degradation, evidence, inputs, latent_pixel, models, predictions
from explain.analysis.pair import ROLES

NO_MODELS = {"models": (None, None, None, None, None)}      # the shipped pair


def pair_of(state: dict | None):
    """The models the page's state names: (JEPA choice, MAE choice, JEPA path, MAE path, frames)."""
    return models.current_pair(*(state or NO_MODELS)["models"])


def _clip(loaded: inputs.LoadedClip) -> tuple:
    return loaded.key, loaded.original, loaded.model_view, loaded.meta, loaded.summary


def _session(request: gr.Request | None) -> str | None:
    """The page session asking (its clips are kept apart from other users': app.session.ClipStore)."""
    return getattr(request, "session_hash", None)


@shows_errors
def on_upload(path, rescale=False, request: gr.Request = None):
    return _clip(inputs.load_upload(path, rescale, owner=_session(request)))


@shows_errors
def on_example(name, request: gr.Request = None):
    return _clip(inputs.load_named_example(name, owner=_session(request)))


@shows_errors
def on_phantom(ef, hr, pop, seed, request: gr.Request = None):
    return _clip(inputs.generate_phantom(ef, hr, pop, seed, owner=_session(request)))


def on_phantom_settings(ef, hr, pop, seed):
    """What the phantom's settings give that the models never or rarely saw, said before generating."""
    if ef is None or hr is None:
        return ""
    return "\n\n".join(f"⚠️ {w}" for w in inputs.phantom_notes(float(ef), float(hr), pop, seed))


NO_CLIP = ("No clip loaded: the last one asked for could not be read (the message said why), so the "
           "results of the clip before it are cleared too.")


NO_UPLOAD = ("No clip loaded: the file shown was removed from the upload box, and its results with it. Upload "
             "another, or pick an example or a phantom clip.")


def on_upload_cleared(key, uploaded, stale_cleared: list):
    """The upload box emptied: if the page shows the clip that box held, clear it like a clip that failed (its
    EF beside an empty box reads as nobody's clip); a clip loaded since from the examples or the phantom stays.
    -> the clip outputs, the prediction cards, then the views' cleared values (stale_cleared)."""
    cleared = on_clip_failed()
    if not key or key != uploaded:
        return tuple(gr.skip() for _ in range(len(cleared) + len(stale_cleared)))
    return (*cleared[:4], NO_UPLOAD, *cleared[5:], *stale_cleared)


NO_AUDIT = "No audit shown: the last one could not run (the message says why)."


NO_CLIP_YET = "**{role}**: load a clip above (Upload, Example or Phantom) to see this model's ejection fraction."


def on_clip_failed():
    """A clip that failed to load: no clip key, empty clip views and summary saying so, and the prediction cards
    back to what they say before any clip (a bad upload beside the old clip's EF would read as its EF; an empty
    card, as a model that gave none)."""
    return (None, None, None, None, NO_CLIP, *(NO_CLIP_YET.format(role=r.upper()) for r in ROLES))


NO_PREDICTION = ("### {role}: no EF shown\n\nThe models could not run on this clip (the message says why), so the "
                 "EFs shown before, of another clip or other models, are cleared.")


def on_predict_failed():
    """A prediction that failed (a model's pass raised, the clip left the store): both cards emptied, saying so, as
    on_clip_failed empties them for a clip that failed to load. The EFs they showed were of the clip or models
    before (a new clip or new models are in place before their prediction runs), and beside the new name read as
    its own."""
    return [NO_PREDICTION.format(role=r.upper()) for r in ROLES]


@clears_on_error(on_predict_failed)
@shows_errors
def on_predict(key, state, progress=gr.Progress()):
    if not key:                                     # models chosen before any clip: nothing to predict
        return [NO_CLIP_YET.format(role=r.upper()) for r in ROLES]
    progress(0.1, desc="Running both models")
    cards = predictions.prediction_cards(key, pair_of(state))
    return [cards[r] for r in ROLES]


@shows_errors
def on_models(jd, jp, md, mp, frames):
    """The state naming the models, their description and cards, the attention sliders' ranges and the latent
    tab's time slots (the JEPA's: its views are drawn on its token grid)."""
    state = {"models": (jd, md, jp, mp, frames)}
    pair = pair_of(state)
    depth = min(m.wrapper.config.num_hidden_layers for m in pair.values())
    frames_seen = max(m.input_shape[0] for m in pair.values())      # the scrubber: the longer view's frames
    return (state, models.describe_pair(pair, frames), *(evidence.card_markdown(pair[r]) for r in ROLES),
            gr.update(maximum=depth - 1), gr.update(maximum=frames_seen - 1),
            gr.update(maximum=pair["jepa"].wrapper.grid[0] - 1))


@shows_errors
def on_models_kept(state):
    """Models that failed to load: the line says which models are still in use (the state kept them)."""
    kept = state or NO_MODELS
    return (models.describe_pair(pair_of(kept), kept["models"][4]) + "\n\nThe models asked for could not be loaded "
            "(the message said why); the ones above are still in use.")


@shows_errors
def on_attention(key, state, method, fusion, discard, start, readout, layer, mode, steps, region, frame,
                 colours=attention.COLOURS, draws=attention.PRETEXT_DRAWS, progress=gr.Progress()):
    """Videos, captions and the scrubber's frame for each model, then what is shown (the scrubber's maps:
    {'settings': the method and its controls, 'colours': the colour scale}). draws, pretext's mask draws, comes
    last so that scripts calling the 'attention' API by position, from before it, still mean what they did."""
    progress(0.0, desc=f"{method} for both models (attribution methods take a minute on a CPU)")
    settings = [method, fusion, discard, start, readout, layer, mode, steps, region, draws]
    return _attention_shown(key, pair_of(state), {"settings": settings, "colours": colours}, frame,
                            progress=lambda f, d: progress(f, desc=d))


@shows_errors
def on_colours(key, state, shown, colours, frame, progress=gr.Progress()):
    """The maps shown, drawn again in another colour scale; nothing before a map is shown, nor where its maps left
    the shared cache (they are never made again here: an attribution takes minutes)."""
    unchanged = [gr.update() for _ in range(3 * len(ROLES))] + [shown]
    if not (key and shown):
        return unchanged
    pair = pair_of(state)
    if attention.kept_maps(key, pair, *shown["settings"]) is None:
        gr.Info("The maps shown are no longer kept (the results cache is shared and bounded): press 'Show where they "
                "look' to make them again in this colour scale.")
        return unchanged
    progress(0.5, desc="Redrawing the maps shown in this colour scale")
    return _attention_shown(key, pair, {**shown, "colours": colours}, frame)


def _attention_shown(key, pair, shown: dict, frame, progress=None) -> list:
    """on_attention's outputs: each model's video, caption and scrubbed frame, then `shown`."""
    settings, colours = shown["settings"], shown["colours"]
    videos = attention.overlay_videos(key, pair, *settings, progress=progress, colours=colours)
    imgs = attention.scrub(key, pair, settings[0], frame, *settings[1:], colours=colours) or {}
    return ([videos[r][0] for r in ROLES] + [videos[r][1] for r in ROLES] + [_scrubbed(imgs.get(r), r) for r in ROLES]
            + [shown])


def _scrubbed(shown: tuple | None, role: str):
    """A scrubbed frame (image, label: which frame, ED or ES) as the image's update; None clears it, and its label
    (no frame named beside no image)."""
    return gr.update(value=None, label=attention.SCRUB_LABEL.format(role.upper())) if shown is None else \
        gr.update(value=shown[0], label=shown[1])


@shows_errors
def on_scrub(key, state, shown, frame):
    """The frame of the maps shown above (not of the controls' current settings, which may differ)."""
    settings = shown["settings"] if shown else None
    imgs = attention.scrub(key, pair_of(state), settings[0], frame, *settings[1:],
                           colours=shown["colours"]) if key and settings else None
    if imgs is None:
        gr.Info("Press 'Show where they look' first: the scrubber moves through the maps shown above.")
        return [gr.update() for _ in ROLES]
    return [_scrubbed(imgs[r], r) for r in ROLES]


def on_method(method, shown):
    """Show the chosen method's controls only (attention.CONTROL_NAMES order), then what its map shows, and that
    the maps below are still another method's until the button is pressed (shown: their settings)."""
    words = attention.METHOD_WORDS.get(method, "")
    was = shown["settings"][0] if shown else None
    if was and was != method:
        words = (f"*The maps below are still {attention.METHOD_LABELS.get(was, was)}'s: press "
                 f"'Show where they look' for this method's.* {words}")
    return [*(gr.update(visible=v) for v in attention.control_visibility(method)), words]


def on_cycle_cleared():
    """The trajectories' plots and numbers emptied: a setting changed (they were drawn with the one before) or a
    redraw failed (Gradio leaves a failed event's outputs standing, beside the new setting's name)."""
    return [*(None for _ in ROLES), ""]


@clears_on_error(on_cycle_cleared)
@shows_errors
def on_cycle(key, state, method, dims, cond, progress=gr.Progress()):
    progress(0.1, desc="Embedding a window around every frame, both models")
    pair = pair_of(state)
    results, label = cycle.trajectories(key, pair, method, dims, cond)
    return [results[r].figure for r in ROLES] + [cycle.numbers_markdown(results, label, pair)]


@clears_on_error(on_cycle_cleared)          # the folder before's plots must not stand under the new folder's name
@shows_errors
def on_dataset(folder, state, method, dims, progress=gr.Progress()):
    progress(0.1, desc="Embedding every clip of the folder")
    figs, words = cycle.dataset_figures(folder, pair_of(state), method, dims)
    return [figs[r] for r in ROLES] + [words]


@shows_errors
def on_degrade(key, state, name, sev, progress=gr.Progress()):
    progress(0.1, desc=f"Degrading and predicting ({name})")
    return degradation.apply_one(key, pair_of(state), name, sev)


def on_degradation_setting():
    """Another degradation or severity chosen: clear the copy, its table and its maps (they were the old one's;
    the sweep plot keeps its own title), and what the maps showed."""
    return [None, "", *(None for _ in ROLES), *("" for _ in ROLES), None]


@shows_errors
def on_degraded_attention(key, state, name, sev, colours=attention.COLOURS, progress=gr.Progress()):
    """Each model's rollout video on the degraded copy, its caption, then what is shown (the degradation, severity
    and colour scale: a new colour scale redraws these maps, whatever the boxes say meanwhile)."""
    progress(0.1, desc=f"Rollout on the clip under {name}")
    return _degraded_maps(key, state, {"name": name, "severity": sev, "colours": colours})


def _degraded_maps(key, state, shown: dict) -> list:
    maps = degradation.attention_under(key, pair_of(state), shown["name"], shown["severity"], colours=shown["colours"])
    return [maps[r][0] for r in ROLES] + [maps[r][1] for r in ROLES] + [shown]


@shows_errors
def on_degraded_colours(key, state, shown, colours, progress=gr.Progress()):
    """The degraded maps shown, drawn again in another colour scale (a rollout, made again in a second or two if the
    shared cache let it go); nothing where none is shown."""
    if not (key and shown):
        return [gr.update() for _ in range(2 * len(ROLES))] + [shown]
    progress(0.5, desc="Redrawing the degraded maps in this colour scale")
    return _degraded_maps(key, state, {**shown, "colours": colours})


@shows_errors
def on_sweep(key, state, name, progress=gr.Progress()):
    progress(0.1, desc=f"Sweeping {name} over severity")
    return degradation.sweep(key, pair_of(state), name)[0]


@shows_errors
def on_latent(key, state, seed, slot, progress=gr.Progress()):
    """The four teaching views, their captions, then the clip they were drawn for (on_latent_redraw reads it)."""
    progress(0.1, desc="Masks, reconstruction, prediction and anatomy read-out")
    vs = latent_pixel.views(key, pair_of(state), seed, slot)
    return [v.figure for v in vs] + [latent_pixel.caption_markdown(v) for v in vs] + [key]


def on_latent_redraw(key, state, seed, slot, drawn_for, progress=gr.Progress()):
    """A new time slot or mask seed: the views drawn again, only where views of this clip are shown (before the
    button is pressed, or with no clip, nothing is computed and nothing said)."""
    if not key or drawn_for != key:
        return [gr.skip() for _ in range(9)]
    return on_latent(key, state, seed, slot, progress)


@shows_errors
def on_speckle(state, progress=gr.Progress()):
    progress(0.1, desc="Rendering 8 hearts with 4 speckle draws each, embedding all")
    v = latent_pixel.speckle(pair_of(state))
    return v.figure, latent_pixel.caption_markdown(v)


@shows_errors
def on_audit(files, folder, state, progress=gr.Progress()):
    result = audit.run(files, folder, pair_of(state), lambda f, d: progress(f, desc=d))
    return result.summary_md, result.table, result.figure, result.downloads


def on_audit_failed():
    """An audit that failed: no summary, table, plot or download of an earlier audit stays under its inputs."""
    return NO_AUDIT, None, None, None
