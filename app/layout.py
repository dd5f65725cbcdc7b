"""The page: clip input and model choice on top, then one tab per view, JEPA | MAE side by side.

Every event goes through `shows_errors`, so bad input shows a message in the page; the queue runs
one heavy job at a time, so two users cannot run the machine out of memory together.
"""
from __future__ import annotations

import gradio as gr

from app.errors import shows_errors
from app.views import attention, audit, cycle, degradation, evidence, inputs, latent_pixel, models, predictions
from echo.degrade import CONDITIONS, DEGRADATIONS
from echo.examples import EXAMPLES
from echo.phantom.params import POPULATIONS
from explain.analysis.pair import DEFAULT_MODELS, ROLES

TITLE = "EchoLens: inside self-supervised echo models (JEPA | MAE)"
INTRO = ("Load a clip, then compare a latent-prediction model (**JEPA**) and a pixel-prediction model "
         "(**MAE**) on it: EF, where they look, how their embedding moves through a heartbeat, what "
         "degradation does, and why predicting latents can ignore speckle. The shipped models learned "
         "from a simulated phantom: their EF on a real clip is not a measurement.")
# The benchmark table has 21 columns: scroll it sideways rather than break its numbers letter by letter
CSS = """
#evidence table { display: block; overflow-x: auto; }
#evidence td { white-space: nowrap; }
#evidence th { word-break: normal; overflow-wrap: normal; min-width: 4em; }
"""

# Errors stay until closed (app.errors); the next button pressed outside them closes them, so an error never
# sits beside the result of a later action that went well
JS = """() => {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.closest(".toast-wrap")) return;
    document.querySelectorAll("button.toast-close.error").forEach((close) => close.click());
  }, true);
}"""


def _pair(state: dict):
    return models.current_pair(*(state or {}).get("models", (None, None, None, None, None)))


def build(extra_dirs: tuple[str, ...] = ()) -> gr.Blocks:
    """The whole page; extra_dirs: folders whose models the model boxes offer beside the shipped ones."""
    with gr.Blocks(title="EchoLens", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        clip_key = gr.State(None)
        model_state = gr.State({"models": (None, None, None, None, None)})

        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tab("Upload"):
                    upload = gr.File(label="Clip (AVI, MP4, DICOM cine, NPY/NPZ)", elem_id="upload")
                with gr.Tab("Example"):
                    example = gr.Dropdown(list(EXAMPLES), value="adult_normal", label="Example clip")
                    example_btn = gr.Button("Load example", elem_id="load-example")
                with gr.Tab("Phantom"):
                    ph_ef = gr.Slider(*inputs.EF_RANGE, value=60, step=1, label="EF (%)")
                    ph_hr = gr.Slider(*inputs.HR_RANGE, value=70, step=1, label="Heart rate (bpm)")
                    ph_pop = gr.Radio(list(POPULATIONS), value="adult", label="Population")
                    ph_seed = gr.Number(value=0, precision=0, label="Seed")
                    ph_btn = gr.Button("Generate phantom clip")
                with gr.Accordion("Models", open=False):
                    jepa_dd = gr.Dropdown(models.model_choices("jepa", extra_dirs), value=DEFAULT_MODELS["jepa"], label="JEPA model")
                    jepa_path = gr.Textbox(label="…or a local JEPA checkpoint path", placeholder="/path/to/model")
                    mae_dd = gr.Dropdown(models.model_choices("mae", extra_dirs), value=DEFAULT_MODELS["mae"], label="MAE model")
                    mae_path = gr.Textbox(label="…or a local MAE checkpoint path", placeholder="/path/to/model")
                    frames_in = gr.Number(value=0, precision=0, minimum=0, maximum=64,
                                          label="Frames for large checkpoints (0 = their own)")
                    use_btn = gr.Button("Use these models")
                model_info = gr.Markdown(elem_id="model-info")
            with gr.Column(scale=2):
                summary = gr.Markdown("No clip loaded yet.", elem_id="clip-summary")
                with gr.Row():
                    original = gr.Video(label="Clip (sector outlined)", autoplay=True, loop=True, elem_id="original")
                    seen = gr.Video(label="What the models see (one beat)", autoplay=True, loop=True,
                                    elem_id="model-view")
                meta = gr.JSON(label="Clip facts (no patient fields)")

        with gr.Tab("1 Predictions"):
            with gr.Row():
                pred_md = {r: gr.Markdown(elem_id=f"pred-{r}") for r in ROLES}
        with gr.Tab("2 Attention"):
            gr.Markdown(attention.CAPTION)
            with gr.Row():
                att_method = gr.Dropdown(list(attention.METHODS), value="rollout", label="Method")
                att_fusion = gr.Radio(["mean", "max", "min"], value="mean", label="Head fusion (rollout)")
                att_discard = gr.Slider(0, 0.9, value=0.0, step=0.1, label="Discard ratio (rollout)")
                att_start = gr.Slider(0, 23, value=0, step=1, label="Start layer (rollout)")
                att_readout = gr.Radio(["probe", "mean"], value="probe", label="Read-out (rollout)")
                att_layer = gr.Number(value=-1, precision=0, label="Layer (paper mode; -1 = last)", visible=False)
                att_mode = gr.Radio(["received", "given"], value="received", label="Paper mode", visible=False)
                att_steps = gr.Slider(4, 64, value=16, step=4, label="Steps (integrated gradients)", visible=False)
                att_btn = gr.Button("Show where they look", elem_id="attention-run")
            with gr.Row():
                att_video = {r: gr.Video(label=f"{r.upper()} map", autoplay=True, loop=True, elem_id=f"att-video-{r}")
                             for r in ROLES}
            with gr.Row():
                att_md = {r: gr.Markdown(elem_id=f"att-focus-{r}") for r in ROLES}
            att_frame = gr.Slider(0, 15, value=0, step=1, label="Frame of the models' view (scrubber)",
                                  info="moves through the maps shown above")
            att_shown = gr.State(None)     # the settings of the maps shown above: the scrubber follows them
            with gr.Row():
                att_img = {r: gr.Image(label=f"{r.upper()} at this frame", type="numpy") for r in ROLES}
        with gr.Tab("3 Cardiac cycle"):
            gr.Markdown(cycle.CAPTION)
            with gr.Row():
                cyc_method = gr.Radio(["pca", "umap"], value="pca", label="Projection")
                cyc_dims = gr.Radio([2, 3], value=3, label="Dimensions")
                cyc_cond = gr.Dropdown(["none", *CONDITIONS], value="none", label="Overlay a degraded copy")
                cyc_btn = gr.Button("Draw trajectories", elem_id="cycle-run")
            with gr.Row():
                cyc_plot = {r: gr.Plot(label=f"{r.upper()} trajectory", elem_id=f"cycle-plot-{r}") for r in ROLES}
            cyc_md = gr.Markdown(elem_id="cycle-numbers")
            with gr.Accordion("Dataset view: one point per clip of a folder (EchoNet layout), coloured by EF", open=False):
                ds_folder = gr.Textbox(label="Folder (FileList.csv + Videos/)")
                ds_btn = gr.Button("Embed the folder")
                with gr.Row():
                    ds_plot = {r: gr.Plot(label=f"{r.upper()} clips") for r in ROLES}
        with gr.Tab("4 Degradation lab"):
            with gr.Row():
                deg_name = gr.Dropdown(list(DEGRADATIONS), value="shadow", label="Degradation")
                deg_sev = gr.Slider(0, 1, value=0.6, step=0.05, label="Severity")
                deg_btn = gr.Button("Apply")
                sweep_btn = gr.Button("Sweep severity")
            with gr.Row():
                deg_video = gr.Video(label="Clean | degraded", autoplay=True, loop=True)
                deg_md = gr.Markdown()
            sweep_plot = gr.Plot(label="Sensitivity", elem_id="sweep-plot")
            deg_att_btn = gr.Button("Attention under this degradation (rollout)")
            with gr.Row():
                deg_att_video = {r: gr.Video(label=f"{r.upper()} map, degraded", autoplay=True, loop=True)
                                 for r in ROLES}
            with gr.Row():
                deg_att_md = {r: gr.Markdown() for r in ROLES}
        with gr.Tab("5 Latent vs pixel"):
            gr.Markdown(latent_pixel.INTRO)
            with gr.Row():
                lp_seed = gr.Number(value=0, precision=0, label="Mask seed")
                lp_slot = gr.Slider(0, 7, value=0, step=1, label="Time slot")
                lp_btn = gr.Button("Show latent vs pixel", elem_id="latent-run")
            lp_plots, lp_caps = [], []
            for k in range(4):
                lp_plots.append(gr.Plot(elem_id=f"latent-plot-{k}"))
                lp_caps.append(gr.Markdown())
            sp_btn = gr.Button("Run the speckle test (8 hearts x 4 speckle draws)")
            sp_plot = gr.Plot(elem_id="speckle-plot")
            sp_cap = gr.Markdown()
        with gr.Tab("6 Audit"):
            gr.Markdown("Audit a set of clips: upload several, or give a folder (EchoNet layout with FileList.csv "
                        "brings the true EF). Each clip gets both models' EF, error, sensitivity to the six "
                        "benchmark degradations and an out-of-distribution flag.")
            with gr.Row():
                au_files = gr.File(file_count="multiple", label="Clips", elem_id="audit-files")
                au_folder = gr.Textbox(label="…or a folder on this machine")
            au_btn = gr.Button("Audit", elem_id="audit-run")
            au_md = gr.Markdown(elem_id="audit-summary")
            au_table = gr.Dataframe(label="Per clip", elem_id="audit-table")
            au_plot = gr.Plot()
            au_dl = gr.File(label="Downloads (CSV, HTML report)", file_count="multiple")
        with gr.Tab("7 Models and evidence"):
            with gr.Row():
                card_md = {r: gr.Markdown() for r in ROLES}
            gr.Markdown(evidence.evidence_markdown(), elem_id="evidence")
            recipes_fig, recipes_caption = evidence.recipes_figure()
            gr.Markdown(recipes_caption, elem_id="recipes-caption")
            if recipes_fig is not None:
                gr.Plot(recipes_fig, elem_id="recipes-plot")

        # --- events ---------------------------------------------------------------------------
        att_inputs = [att_method, att_fusion, att_discard, att_start, att_readout, att_layer, att_mode, att_steps]
        att_controls = att_inputs[1:]          # in attention.CONTROL_NAMES order: shown with their method only
        clip_outputs = [clip_key, original, seen, meta, summary]

        def shown(loaded: inputs.LoadedClip):
            return loaded.key, loaded.original, loaded.model_view, loaded.meta, loaded.summary

        @shows_errors
        def on_upload(path):
            return shown(inputs.load_upload(path))

        @shows_errors
        def on_example(name):
            return shown(inputs.load_named_example(name))

        @shows_errors
        def on_phantom(ef, hr, pop, seed):
            return shown(inputs.generate_phantom(ef, hr, pop, seed))

        @shows_errors
        def on_predict(key, state, progress=gr.Progress()):
            if not key:                                     # models chosen before any clip: nothing to predict
                return ["" for _ in ROLES]
            progress(0.1, desc="Running both models")
            cards = predictions.prediction_cards(key, _pair(state))
            return [cards[r] for r in ROLES]

        @shows_errors
        def on_models(jd, jp, md, mp, frames):
            state = {"models": (jd, md, jp, mp, frames)}
            pair = _pair(state)
            depth = min(m.wrapper.config.num_hidden_layers for m in pair.values())
            frames_seen = min(m.input_shape[0] for m in pair.values())
            return (state, models.describe_pair(pair), *(evidence.card_markdown(pair[r]) for r in ROLES),
                    gr.update(maximum=depth - 1), gr.update(maximum=frames_seen - 1))

        @shows_errors
        def on_attention(key, state, method, fusion, discard, start, readout, layer, mode, steps, frame,
                         progress=gr.Progress()):
            progress(0.0, desc=f"{method} for both models (attribution methods take a minute on a CPU)")
            settings = [method, fusion, discard, start, readout, layer, mode, steps]
            pair = _pair(state)
            shown_ = attention.overlay_videos(key, pair, *settings, progress=lambda f, d: progress(f, desc=d))
            imgs = attention.scrub(key, pair, method, frame, *settings[1:]) or {}     # the scrubber's frame
            return ([shown_[r][0] for r in ROLES] + [shown_[r][1] for r in ROLES] + [imgs.get(r) for r in ROLES]
                    + [settings])

        @shows_errors
        def on_scrub(key, state, settings, frame):
            """The frame of the maps shown above (not of the controls' current settings, which may differ)."""
            imgs = attention.scrub(key, _pair(state), settings[0], frame, *settings[1:]) if key and settings else None
            if imgs is None:
                gr.Info("Press 'Show where they look' first: the scrubber moves through the maps shown above.")
                return [gr.update() for _ in ROLES]
            return [imgs[r] for r in ROLES]

        def clear_views():
            """A new clip: no view keeps the previous clip's results under the new clip's header."""
            return [None] * len(stale_outputs)

        @shows_errors
        def on_cycle(key, state, method, dims, cond, progress=gr.Progress()):
            progress(0.1, desc="Embedding a window around every frame, both models")
            results, label = cycle.trajectories(key, _pair(state), method, dims, cond)
            return [results[r].figure for r in ROLES] + [cycle.numbers_markdown(results, label)]

        @shows_errors
        def on_dataset(folder, state, progress=gr.Progress()):
            progress(0.1, desc="Embedding every clip of the folder")
            figs = cycle.dataset_figures(folder, _pair(state))
            return [figs[r] for r in ROLES]

        @shows_errors
        def on_latent(key, state, seed, slot, progress=gr.Progress()):
            progress(0.1, desc="Masks, reconstruction, prediction and anatomy read-out")
            vs = latent_pixel.views(key, _pair(state), seed, slot)
            return [v.figure for v in vs] + [latent_pixel.caption_markdown(v) for v in vs]

        @shows_errors
        def on_speckle(state, progress=gr.Progress()):
            progress(0.1, desc="Rendering 8 hearts with 4 speckle draws each, embedding all")
            v = latent_pixel.speckle(_pair(state))
            return v.figure, latent_pixel.caption_markdown(v)

        @shows_errors
        def on_audit(files, folder, state, progress=gr.Progress()):
            result = audit.run(files, folder, _pair(state), lambda f, d: progress(f, desc=d))
            return result.summary_md, result.table, result.figure, result.downloads

        @shows_errors
        def on_degrade(key, state, name, sev, progress=gr.Progress()):
            progress(0.1, desc=f"Degrading and predicting ({name})")
            return degradation.apply_one(key, _pair(state), name, sev)

        @shows_errors
        def on_degraded_attention(key, state, name, sev, progress=gr.Progress()):
            progress(0.1, desc=f"Rollout on the clip under {name}")
            shown_ = degradation.attention_under(key, _pair(state), name, sev)
            return [shown_[r][0] for r in ROLES] + [shown_[r][1] for r in ROLES]

        @shows_errors
        def on_sweep(key, state, name, progress=gr.Progress()):
            progress(0.1, desc=f"Sweeping {name} over severity")
            return degradation.sweep(key, _pair(state), name)[0]

        # Every event that runs a model shares one queue slot: one heavy job at a time, whoever asks.
        heavy = {"concurrency_id": "models", "concurrency_limit": 1}
        stale_outputs = [*att_video.values(), *att_md.values(), *att_img.values(), att_shown, *cyc_plot.values(),
                         cyc_md, deg_video, deg_md, sweep_plot, *deg_att_video.values(), *deg_att_md.values(),
                         *lp_plots, *lp_caps]
        model_outputs = [model_state, model_info, *card_md.values(), att_start, att_frame]
        for event, fn, ins, api in ((upload.upload, on_upload, [upload], "upload"),
                                    (example_btn.click, on_example, [example], "load_example"),
                                    (ph_btn.click, on_phantom, [ph_ef, ph_hr, ph_pop, ph_seed], "generate_phantom")):
            loaded = event(fn, ins, clip_outputs, api_name=api, **heavy)
            loaded.success(clear_views, None, stale_outputs, api_name=False).success(
                on_predict, [clip_key, model_state], list(pred_md.values()), api_name=f"{api}_predict", **heavy)
        use_btn.click(on_models, [jepa_dd, jepa_path, mae_dd, mae_path, frames_in], model_outputs,
                      api_name="use_models", **heavy).success(clear_views, None, stale_outputs, api_name=False).success(
            on_predict, [clip_key, model_state], list(pred_md.values()), **heavy)
        att_method.change(lambda method: [gr.update(visible=v) for v in attention.control_visibility(method)],
                          [att_method], att_controls, api_name="attention_controls", queue=False)
        att_btn.click(on_attention, [clip_key, model_state, *att_inputs, att_frame],
                      [*att_video.values(), *att_md.values(), *att_img.values(), att_shown], api_name="attention",
                      **heavy)
        att_frame.release(on_scrub, [clip_key, model_state, att_shown, att_frame], list(att_img.values()),
                          api_name="scrub", **heavy)
        cyc_btn.click(on_cycle, [clip_key, model_state, cyc_method, cyc_dims, cyc_cond],
                      [*cyc_plot.values(), cyc_md], api_name="cycle", **heavy)
        ds_btn.click(on_dataset, [ds_folder, model_state], list(ds_plot.values()), api_name="dataset", **heavy)
        lp_btn.click(on_latent, [clip_key, model_state, lp_seed, lp_slot], [*lp_plots, *lp_caps], api_name="latent_pixel", **heavy)
        sp_btn.click(on_speckle, [model_state], [sp_plot, sp_cap], api_name="speckle", **heavy)
        au_btn.click(on_audit, [au_files, au_folder, model_state], [au_md, au_table, au_plot, au_dl], api_name="audit", **heavy)
        deg_btn.click(on_degrade, [clip_key, model_state, deg_name, deg_sev], [deg_video, deg_md], api_name="degrade", **heavy)
        deg_att_btn.click(on_degraded_attention, [clip_key, model_state, deg_name, deg_sev],
                          [*deg_att_video.values(), *deg_att_md.values()], api_name="degraded_attention", **heavy)
        sweep_btn.click(on_sweep, [clip_key, model_state, deg_name], [sweep_plot], api_name="sweep", **heavy)
        demo.load(on_models, [jepa_dd, jepa_path, mae_dd, mae_path, frames_in], model_outputs, **heavy)
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo
