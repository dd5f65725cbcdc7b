"""The page: clip input and model choice on top, then one tab per view, JEPA | MAE side by side.

Every event goes through `shows_errors`, so bad input shows a message in the page; the queue runs
one heavy job at a time, so two users cannot run the machine out of memory together.
"""
from __future__ import annotations

import gradio as gr

from app.errors import shows_errors
from app.views import attention, degradation, evidence, inputs, models, predictions
from echo.degrade import DEGRADATIONS
from echo.examples import EXAMPLES
from echo.phantom.params import POPULATIONS

TITLE = "EchoLens: inside self-supervised echo models (JEPA | MAE)"
INTRO = ("Load a clip, then compare a latent-prediction model (**JEPA**) and a pixel-prediction model "
         "(**MAE**) on it: EF, where they look, how their embedding moves through a heartbeat, what "
         "degradation does, and why predicting latents can ignore speckle. The shipped models learned "
         "from a simulated phantom: their EF on a real clip is not a measurement.")
ROLES = ("jepa", "mae")


def _pair(state: dict):
    return models.current_pair(*(state or {}).get("models", (None, None, None, None, None)))


def build() -> gr.Blocks:
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
                    jepa_dd = gr.Dropdown(models.model_choices("jepa"), value="jepa-small", label="JEPA model")
                    jepa_path = gr.Textbox(label="…or a local JEPA checkpoint path", placeholder="/path/to/model")
                    mae_dd = gr.Dropdown(models.model_choices("mae"), value="mae-small", label="MAE model")
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
                att_btn = gr.Button("Show where they look", elem_id="attention-run")
            with gr.Row():
                att_video = {r: gr.Video(label=f"{r.upper()} map", autoplay=True, loop=True, elem_id=f"att-video-{r}")
                             for r in ROLES}
            with gr.Row():
                att_md = {r: gr.Markdown(elem_id=f"att-focus-{r}") for r in ROLES}
            att_frame = gr.Slider(0, 15, value=0, step=1, label="Frame of the models' view (scrubber)")
            with gr.Row():
                att_img = {r: gr.Image(label=f"{r.upper()} at this frame", type="numpy") for r in ROLES}
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
        with gr.Tab("7 Models and evidence"):
            with gr.Row():
                card_md = {r: gr.Markdown() for r in ROLES}
            gr.Markdown(evidence.evidence_markdown())

        # --- events ---------------------------------------------------------------------------
        att_inputs = [att_method, att_fusion, att_discard, att_start, att_readout]
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
            progress(0.1, desc="Running both models")
            cards = predictions.prediction_cards(key, _pair(state))
            return [cards[r] for r in ROLES]

        @shows_errors
        def on_models(jd, jp, md, mp, frames):
            state = {"models": (jd, md, jp, mp, frames)}
            pair = _pair(state)
            return state, models.describe_pair(pair), *(evidence.card_markdown(pair[r]) for r in ROLES)

        @shows_errors
        def on_attention(key, state, method, *params, progress=gr.Progress()):
            progress(0.1, desc=f"{method} for both models (attribution methods take a minute on a CPU)")
            shown_ = attention.overlay_videos(key, _pair(state), method, *params)
            return [shown_[r][0] for r in ROLES] + [shown_[r][1] for r in ROLES]

        @shows_errors
        def on_scrub(key, state, method, fusion, discard, start, readout, frame):
            if not key:
                return [None for _ in ROLES]
            imgs = attention.scrub(key, _pair(state), method, frame, fusion, discard, start, readout)
            return [imgs[r] for r in ROLES]

        @shows_errors
        def on_degrade(key, state, name, sev, progress=gr.Progress()):
            progress(0.1, desc=f"Degrading and predicting ({name})")
            return degradation.apply_one(key, _pair(state), name, sev)

        @shows_errors
        def on_sweep(key, state, name, progress=gr.Progress()):
            progress(0.1, desc=f"Sweeping {name} over severity")
            return degradation.sweep(key, _pair(state), name)[0]

        for event, fn, ins, api in ((upload.upload, on_upload, [upload], "upload"),
                                    (example_btn.click, on_example, [example], "load_example"),
                                    (ph_btn.click, on_phantom, [ph_ef, ph_hr, ph_pop, ph_seed], "generate_phantom")):
            event(fn, ins, clip_outputs, api_name=api).success(
                on_predict, [clip_key, model_state], list(pred_md.values()), api_name=f"{api}_predict")
        use_btn.click(on_models, [jepa_dd, jepa_path, mae_dd, mae_path, frames_in], [model_state, model_info, *card_md.values()],
                      api_name="use_models").success(
            on_predict, [clip_key, model_state], list(pred_md.values()))
        att_btn.click(on_attention, [clip_key, model_state, *att_inputs],
                      [*att_video.values(), *att_md.values()], api_name="attention")
        att_frame.release(on_scrub, [clip_key, model_state, *att_inputs, att_frame], list(att_img.values()),
                          api_name="scrub")
        deg_btn.click(on_degrade, [clip_key, model_state, deg_name, deg_sev], [deg_video, deg_md], api_name="degrade")
        sweep_btn.click(on_sweep, [clip_key, model_state, deg_name], [sweep_plot], api_name="sweep")
        demo.load(on_models, [jepa_dd, jepa_path, mae_dd, mae_path, frames_in], [model_state, model_info, *card_md.values()])
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo
