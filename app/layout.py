"""The page: clip input and model choice on top, then one tab per view, JEPA | MAE side by side.

Each tab builds its components and wires them to its event functions (app/events.py, which show errors in
the page); every event that runs a model shares one queue slot, so two users cannot run the machine out of
memory together.
"""
from __future__ import annotations

import gradio as gr

from app import events
from app.server_paths import box_info
from app.views.glossary import glossary_markdown
from app.views import attention, cycle, degradation, evidence, inputs, latent_pixel, models
from echo.degrade import CONDITIONS, DEGRADATIONS
from echo.examples import EXAMPLES
from echo.phantom.params import HR_RANGES, POPULATIONS
from explain.analysis.latent_pixel import VIEW_TITLES
from explain.analysis.pair import DEFAULT_MODELS, ROLES

TITLE = "EchoLens: inside self-supervised echo models (JEPA | MAE)"
INTRO = ("Load a clip, then compare a latent-prediction model (**JEPA**) and a pixel-prediction model "
         "(**MAE**) on it: EF, where they look, how their embedding moves through a heartbeat, what "
         "degradation does, and why predicting latents can ignore speckle. The shipped models learned "
         "from a simulated phantom: their EF on a real clip is not a measurement. They know one view, the apical "
         "four-chamber (A4C), of adult hearts at {:.0f}-{:.0f} bpm; other views are read as if they were one."
         .format(*HR_RANGES["adult"]))
# The benchmark table has 21 columns: scroll it sideways rather than break its numbers letter by letter; the
# predictions' small tables keep each number on one line ('64.2 %' broke after its digits) and break words only
# between them (the probe and category columns wrap: 'attenti ve' broke inside the word)
MIN_CARD_PX = 360        # a prediction card narrower than this stacks under the other (a phone's 390 px)
CSS = """
#evidence table { display: block; overflow-x: auto; }
#evidence td { white-space: nowrap; }
#evidence th { word-break: normal; overflow-wrap: normal; min-width: 4em; }
#pred-jepa td:not(:nth-child(1)):not(:nth-child(3)), #pred-mae td:not(:nth-child(1)):not(:nth-child(3)) { white-space: nowrap; }
#pred-jepa th, #pred-mae th, #pred-jepa td, #pred-mae td { word-break: normal; overflow-wrap: normal; }
#degrade-numbers table { display: block; overflow-x: auto; }
#degrade-numbers td, #degrade-numbers th { word-break: normal; overflow-wrap: normal; }
#degrade-numbers td:not(:nth-child(1)):not(:nth-child(6)) { white-space: nowrap; }
"""

# The machine's own sans-serif: Gradio's bundled Source Sans Pro drew a bold capital A as a small capital
# ('JEPᴀ | MᴀE' in every heading)
# Hints under the controls in a darker grey: Gradio's was 1.9:1 on white, under WCAG's 4.5:1 for text
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]).set(body_text_color_subdued="*neutral_600")

# Errors stay until closed (app.errors); the next action (an action button pressed, a file chosen) closes them,
# so an error never sits beside the result of a later action that went well. Tabs and widgets leave them be.
JS = """() => {
  const closeErrors = () => document.querySelectorAll("button.toast-close.error").forEach((close) => close.click());
  document.addEventListener("click", (event) => { if (event.target.closest("button.action")) closeErrors(); }, true);
  document.addEventListener("change", (event) => { if (event.target.matches("input[type=file]")) closeErrors(); }, true);
}"""


def _action(label: str, **kwargs) -> gr.Button:
    """A button that starts something (JS closes earlier errors when one is pressed)."""
    return gr.Button(label, elem_classes=["action"], **kwargs)


# Every event that runs a model shares one queue slot: one heavy job at a time, whoever asks
HEAVY = {"concurrency_id": "models", "concurrency_limit": 1}
# Reading a clip runs no model: its own slot, so a refused upload is said at once, not after another user's audit
# (one at a time still: decoding a large clip holds several copies of it)
LOADING = {"concurrency_id": "clips", "concurrency_limit": 1}
PREDICTIONS_TAB = "predictions"


def build(extra_dirs: tuple[str, ...] = ()) -> gr.Blocks:
    """The whole page; extra_dirs: folders whose models the model boxes offer beside the shipped ones."""
    with gr.Blocks(title="EchoLens", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        with gr.Accordion("Words used here", open=False):
            gr.Markdown(glossary_markdown(), elem_id="glossary")
        clip_key = gr.State(None)
        uploaded_key = gr.State(None)           # the key of the clip the upload box last loaded
        model_state = gr.State(events.NO_MODELS)
        with gr.Row():
            with gr.Column(scale=1):
                clip_events, upload = _clip_inputs()
                model_inputs, use_btn = _model_inputs(extra_dirs)
                model_info = gr.Markdown(elem_id="model-info")
            with gr.Column(scale=2):
                clip_outputs = [clip_key, *_clip_display()]
        with gr.Tabs() as views:              # a clip loaded on another tab opens its EFs (its views are cleared)
            with gr.Tab("1 Predictions", id=PREDICTIONS_TAB):
                with gr.Row():                         # side by side; stacked on a screen too narrow for two
                    pred_md = []
                    for r in ROLES:
                        with gr.Column(min_width=MIN_CARD_PX):
                            pred_md.append(gr.Markdown(events.NO_CLIP_YET.format(role=r.upper()),
                                                       elem_id=f"pred-{r}"))
            with gr.Tab("2 Attention"):
                stale_attention, att_start, att_frame, att_colours = _attention_tab(clip_key, model_state)
            with gr.Tab("3 Cardiac cycle"):
                stale_cycle, dataset_plots = _cycle_tab(clip_key, model_state)
            with gr.Tab("4 Degradation lab"):
                stale_degradation, lab_colours = _degradation_tab(clip_key, model_state)
            with gr.Tab("5 Latent vs pixel"):
                stale_latent, latent_slot, speckle_shown = _latent_tab(clip_key, model_state)
            with gr.Tab("6 Audit"):
                audited = _audit_tab(model_state)
            with gr.Tab("7 Models and evidence"):
                card_md = _evidence_tab()

        stale = [*stale_attention, *stale_cycle, *stale_degradation, *stale_latent]
        # one colour scale for the page's maps: choosing it on one tab sets the other's, whose maps redraw too
        for chosen, other in ((att_colours, lab_colours), (lab_colours, att_colours)):
            chosen.change(lambda colours: colours, chosen, other, queue=False, api_visibility="private")

        def clear_stale():
            """A new clip or new models: no view keeps results made before (then both models predict); an image
            gets its first label back (the scrubbed frames' labels name the frame shown)."""
            return [gr.update(value=None, label=c.label) if isinstance(c, gr.Image) else None for c in stale]

        predict = dict(fn=events.on_predict, inputs=[clip_key, model_state], outputs=pred_md, **HEAVY)
        for event, fn, ins, api in clip_events:
            loading = event(fn, ins, clip_outputs, api_name=api, **LOADING)
            # cleared at once, and again in the model slot: a model job of the clip before, still running when this
            # one loaded (loading has its own slot), would otherwise land its results under the new clip
            predicting = loading.success(clear_stale, None, stale, api_visibility="private").success(
                clear_stale, None, stale, api_visibility="private", **HEAVY).success(
                api_name=f"{api}_predict", **predict)
            loading.success(lambda: gr.Tabs(selected=PREDICTIONS_TAB), None, views, api_visibility="private",
                            queue=False)
            if api == "upload":
                loading.success(lambda key: key, clip_key, uploaded_key, api_visibility="private")
                upload_jobs = [loading, predicting]       # what emptying the box stops (its EF beside no clip)
            # a clip that failed: nothing on the page may stay from the clip before (it would read as this one's)
            loading.failure(events.on_clip_failed, None, [*clip_outputs, *pred_md], api_visibility="private").then(
                clear_stale, None, stale, api_visibility="private")
        upload.clear(lambda key, uploaded: events.on_upload_cleared(key, uploaded, clear_stale()),
                     [clip_key, uploaded_key], [*clip_outputs, *pred_md, *stale], cancels=upload_jobs,
                     api_visibility="private")
        model_outputs = [model_state, model_info, *card_md, att_start, att_frame, latent_slot]
        by_models = [*dataset_plots, *speckle_shown, *audited]     # made of the models alone: a new clip keeps them

        def clear_model_views():
            """New models: the views made of the models alone (the speckle test, the dataset view, the audit) go too."""
            return [None for _ in by_models]

        for chosen, typed in (model_inputs[0:2], model_inputs[2:4]):  # a typed path wins over the list (models.pick):
            chosen.input(lambda: "", None, typed, api_visibility="private")   # picking from the list clears it
        choosing = use_btn.click(events.on_models, model_inputs, model_outputs, api_name="use_models", **HEAVY)
        choosing.success(clear_stale, None, stale, api_visibility="private").success(**predict)
        choosing.success(clear_model_views, None, by_models, api_visibility="private")
        choosing.failure(events.on_models_kept, [model_state], [model_info], api_visibility="private")
        demo.load(events.on_models, model_inputs, model_outputs, **HEAVY)
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


def _clip_inputs() -> tuple[list[tuple], gr.File]:
    """Upload, example and phantom tabs -> ([(event, event function, its inputs, api name)], the upload box)."""
    with gr.Tabs(selected="example"):        # a first visit opens on the examples: one click to a result
        with gr.Tab("Upload"):
            upload = gr.File(label="Clip (AVI, MP4, DICOM cine, NPY/NPZ, or a ZIP of PNG/JPEG frames)", elem_id="upload")
            rescale = gr.Checkbox(False, label=inputs.RESCALE_LABEL,
                                  info="for the next upload: the clip's own darkest-to-brightest range onto 0-255 "
                                       "(8-bit clips are read as they are)", elem_id="rescale")
        with gr.Tab("Example", id="example"):
            example = gr.Dropdown([(f"{name}: {about[0]}", name) for name, about in EXAMPLES.items()],
                                  value="adult_normal", label="Example clip")
            example_btn = _action("Load example", elem_id="load-example")
        with gr.Tab("Phantom"):
            phantom = [gr.Slider(*inputs.EF_RANGE, value=60, step=1, label="EF (%)"),
                       gr.Slider(*inputs.HR_RANGE, value=70, step=1, label="Heart rate (bpm)"),
                       gr.Radio(list(POPULATIONS), value="adult", label="Population"),
                       gr.Number(value=0, precision=0, label="Seed")]
            phantom_btn = _action("Generate phantom clip")
            phantom_note = gr.Markdown(elem_id="phantom-note")        # said as the settings are chosen
            for setting in phantom:
                setting.change(events.on_phantom_settings, phantom, phantom_note, queue=False,
                               api_visibility="private")
    return [(upload.upload, events.on_upload, [upload, rescale], "upload"),
            (example_btn.click, events.on_example, [example], "load_example"),
            (phantom_btn.click, events.on_phantom, phantom, "generate_phantom")], upload


def _model_inputs(extra_dirs: tuple[str, ...]) -> tuple[list, gr.Button]:
    """The model boxes ([JEPA choice, JEPA path, MAE choice, MAE path, frames], as on_models takes them)."""
    with gr.Accordion("Models", open=False):
        boxes = [gr.Dropdown(models.model_choices("jepa", extra_dirs), value=DEFAULT_MODELS["jepa"], label="JEPA model"),
                 gr.Textbox(label="…or a local JEPA checkpoint path (used in place of the list)", placeholder="/path/to/model",
                            info=box_info()),
                 gr.Dropdown(models.model_choices("mae", extra_dirs), value=DEFAULT_MODELS["mae"], label="MAE model"),
                 gr.Textbox(label="…or a local MAE checkpoint path (used in place of the list)", placeholder="/path/to/model",
                            info=box_info()),
                 gr.Number(value=0, precision=0, minimum=0, maximum=64, label="Frames for large checkpoints (0 = their own)")]
        return boxes, _action("Use these models")


def _clip_display() -> list:
    """[original video, what the models see, facts, summary]: what loading a clip shows."""
    summary = gr.Markdown("No clip loaded yet.", elem_id="clip-summary")
    with gr.Row():
        original = gr.Video(label="Clip (sector outlined)", autoplay=True, loop=True, elem_id="original")
        seen = gr.Video(label="What the models see (one beat)", autoplay=True, loop=True, elem_id="model-view")
    with gr.Accordion("Clip facts (no patient fields)", open=False):   # closed: the views' results stay in sight
        meta = gr.JSON(label="Clip facts (no patient fields)")
    return [original, seen, meta, summary]


def _attention_tab(clip_key, model_state) -> tuple[list, gr.Slider, gr.Slider, gr.Radio]:
    """-> (outputs a new clip clears, the start-layer slider, the frame scrubber: the models set their ranges; the
    colour scale)."""
    gr.Markdown(attention.CAPTION)
    with gr.Row():
        method = gr.Dropdown([(attention.METHOD_LABELS[m], m) for m in attention.METHODS], value="rollout",
                             label="Method")
        controls = [   # attention.CONTROL_NAMES order: shown with their method only
            gr.Radio(["mean", "max", "min"], value="mean", label="Head fusion (rollout)"),
            gr.Slider(0, 0.9, value=0.0, step=0.1, label="Discard ratio (rollout)"),
            gr.Slider(0, 23, value=0, step=1, label="Start layer (rollout)"),
            gr.Radio(["probe", "mean"], value="probe", label="Read-out (rollout)"),
            gr.Number(value=-1, precision=0, label="Layer (paper mode; -1 = last)", visible=False),
            gr.Radio(["received", "given"], value="received", label="Paper mode", visible=False),
            gr.Slider(4, 64, value=attention.IG_STEPS, step=4, label="Steps (integrated gradients, SmoothGrad)",
                      visible=False),
            gr.Radio(list(attention.REGIONS), value=attention.REGION, label="Region, blocks (feature ablation)",
                     info="one block is occlusion's grid at one pass each; larger regions are faster and coarser",
                     visible=False),
            gr.Slider(2, 32, value=attention.PRETEXT_DRAWS, step=2, label="Mask draws (pretext)",
                      info="more draws steady the map (two passes each)", visible=False)]
        run = _action("Show where they look", elem_id="attention-run")
    method_words = gr.Markdown(attention.METHOD_WORDS["rollout"], elem_id="att-method-words")
    colours = _colour_scale("att-colours")
    with gr.Row():
        videos = [gr.Video(label=f"{r.upper()} map", autoplay=True, loop=True, elem_id=f"att-video-{r}") for r in ROLES]
    with gr.Row():
        captions = [gr.Markdown(elem_id=f"att-focus-{r}") for r in ROLES]
    frame = gr.Slider(0, 15, value=0, step=1, label="Frame of the models' view (scrubber)",
                      info="moves through the maps shown above", elem_id="att-scrubber")
    shown = gr.State(None)     # the settings of the maps shown above: the scrubber follows them
    with gr.Row():
        images = [gr.Image(label=attention.SCRUB_LABEL.format(r.upper()), type="numpy", elem_id=f"att-frame-{r}")
                  for r in ROLES]
    method.change(events.on_method, [method, shown], [*controls, method_words], api_name="attention_controls",
                  queue=False)
    # the maps shown change (a run, or a new clip clearing them): the words no longer say they are another method's
    shown.change(events.on_method, [method, shown], [*controls, method_words], queue=False, api_visibility="private")
    run.click(events.on_attention, [clip_key, model_state, method, *controls[:-1], frame, colours, controls[-1]],
              [*videos, *captions, *images, shown], api_name="attention", **HEAVY)
    # another colour scale (chosen here or on the Degradation lab) redraws the maps shown, never making them again
    colours.change(events.on_colours, [clip_key, model_state, shown, colours, frame],
                   [*videos, *captions, *images, shown], api_visibility="private", trigger_mode="always_last", **HEAVY)
    # input: every drag step and every frame typed into its box, the latest one run (release missed typing)
    frame.input(events.on_scrub, [clip_key, model_state, shown, frame], images, api_name="scrub",
                trigger_mode="always_last", **HEAVY)
    return [*videos, *captions, *images, shown], controls[2], frame, colours


def _colour_scale(elem_id: str) -> gr.Radio:
    """The colour scale of a tab's attention maps (explain.overlay.COLOUR_SCALES)."""
    return gr.Radio([(attention.COLOUR_LABELS[c], c) for c in attention.COLOUR_SCALES], value=attention.COLOURS,
                    label="Colour scale", info=attention.COLOUR_INFO, elem_id=elem_id)


def _cycle_tab(clip_key, model_state) -> tuple[list, list]:
    """-> (outputs a new clip clears, the dataset view's plots: new models clear them)."""
    gr.Markdown(cycle.LEAD)                        # the controls near the top; the full reading one click away
    with gr.Accordion("How to read the trajectories", open=False):
        gr.Markdown(cycle.CAPTION)
    with gr.Row():
        settings = [gr.Radio(["pca", "umap"], value="pca", label="Projection"),
                    gr.Radio([2, 3], value=2, label="Dimensions"),      # 2D reads on a projector; 3D rotates
                    gr.Dropdown(["none", *CONDITIONS], value="none", label="Overlay a degraded copy")]
        run = _action("Draw trajectories", elem_id="cycle-run")
    with gr.Row():
        plots = [gr.Plot(label=f"{r.upper()} trajectory", elem_id=f"cycle-plot-{r}") for r in ROLES]
    numbers = gr.Markdown(elem_id="cycle-numbers")
    with gr.Accordion("Dataset view: one point per clip of a folder (EchoNet layout), coloured by EF", open=False):
        folder = gr.Textbox(label="Folder (FileList.csv + Videos/)", info=box_info())
        embed = _action("Embed the folder")
        with gr.Row():
            dataset_plots = [gr.Plot(label=f"{r.upper()} clips") for r in ROLES]
        dataset_plots.append(gr.Markdown(elem_id="dataset-words"))   # how many clips each holds; which were unread
    run.click(events.on_cycle, [clip_key, model_state, *settings], [*plots, numbers], api_name="cycle", **HEAVY)
    for setting in settings:                 # plots of another setting must not sit under this one's name
        setting.input(events.on_cycle_cleared, None, [*plots, numbers], queue=False, api_visibility="private")
    embed.click(events.on_dataset, [folder, model_state, *settings[:2]], dataset_plots, api_name="dataset", **HEAVY)
    return [*plots, numbers], dataset_plots


def _degradation_tab(clip_key, model_state) -> tuple[list, gr.Radio]:
    """-> (outputs a new clip clears, the colour scale of its maps)."""
    gr.Markdown(degradation.CAPTION)
    with gr.Row():
        name = gr.Dropdown(list(DEGRADATIONS), value="shadow", label="Degradation")
        severity = gr.Slider(0, 1, value=0.6, step=0.01, label="Severity")
        apply = _action("Apply")
        sweep = _action("Sweep severity")
    video = gr.Video(label="Clean | degraded", autoplay=True, loop=True)
    numbers = gr.Markdown(elem_id="degrade-numbers")           # below the video: beside it, its columns were cut
    sweep_plot = gr.Plot(label="Sensitivity", elem_id="sweep-plot")
    with gr.Row():
        attend = _action("Attention under this degradation (rollout)")
        colours = _colour_scale("degrade-colours")
    with gr.Row():
        maps = [gr.Video(label=f"{r.upper()} map: clean copy | degraded", autoplay=True, loop=True) for r in ROLES]
    with gr.Row():
        captions = [gr.Markdown() for _ in ROLES]
    shown = gr.State(None)     # the degradation, severity and colour scale of the maps shown
    apply.click(events.on_degrade, [clip_key, model_state, name, severity], [video, numbers], api_name="degrade", **HEAVY)
    attend.click(events.on_degraded_attention, [clip_key, model_state, name, severity, colours],
                 [*maps, *captions, shown], api_name="degraded_attention", **HEAVY)
    # another colour scale (chosen here or on the Attention tab) redraws the maps shown, if any
    colours.change(events.on_degraded_colours, [clip_key, model_state, shown, colours], [*maps, *captions, shown],
                   api_visibility="private", trigger_mode="always_last", **HEAVY)
    sweep.click(events.on_sweep, [clip_key, model_state, name], [sweep_plot], api_name="sweep", **HEAVY)
    for setting in (name, severity):         # results of another setting must not sit beside this one's name
        setting.input(events.on_degradation_setting, None, [video, numbers, *maps, *captions, shown], queue=False)
    return [video, numbers, sweep_plot, *maps, *captions, shown], colours


def _latent_tab(clip_key, model_state) -> tuple[list, gr.Slider, list]:
    """-> (outputs a new clip clears, the time-slot slider, the speckle test's plot and caption: new models
    clear them)."""
    gr.Markdown(latent_pixel.INTRO)
    with gr.Row():
        seed = gr.Number(value=0, precision=0, label="Mask seed")
        slot = gr.Slider(0, 7, value=0, step=1, label="Time slot (2 frames each for the shipped models)")
        run = _action("Show latent vs pixel", elem_id="latent-run")
    plots, captions = [], []
    for k, label in enumerate(VIEW_TITLES):
        plots.append(gr.Plot(label=label, elem_id=f"latent-plot-{k}"))
        captions.append(gr.Markdown())
    speckle = _action("Run the speckle test (8 hearts x 4 speckle draws)")
    speckle_plot, speckle_caption = gr.Plot(label="The speckle test", elem_id="speckle-plot"), gr.Markdown()
    drawn_for = gr.State(None)       # the clip the views shown were drawn for: a new slot or seed redraws only then
    shown = [*plots, *captions, drawn_for]
    run.click(events.on_latent, [clip_key, model_state, seed, slot], shown, api_name="latent_pixel", **HEAVY)
    # a new time slot or mask seed redraws what is shown (a figure left at the old slot read as the new one's)
    for changed in (slot.input, seed.submit, seed.blur):        # input: dragged, typed or stepped by a key
        changed(events.on_latent_redraw, [clip_key, model_state, seed, slot, drawn_for], shown,
                api_visibility="private", trigger_mode="always_last", **HEAVY)
    speckle.click(events.on_speckle, [model_state], [speckle_plot, speckle_caption], api_name="speckle", **HEAVY)
    return shown, slot, [speckle_plot, speckle_caption]


def _audit_tab(model_state) -> list:
    """-> its outputs (new models clear them: their EF columns would read as the new models')."""
    gr.Markdown("Audit a set of clips: upload several, or give a folder (EchoNet layout with FileList.csv "
                "brings the true EF). Each clip gets both models' EF, error, sensitivity to the six "
                "benchmark degradations and an out-of-distribution flag.")
    with gr.Row():
        files = gr.File(file_count="multiple", label="Clips", elem_id="audit-files")
        folder = gr.Textbox(label="…or a folder on this machine", info=box_info())
    run = _action("Audit", elem_id="audit-run")
    outputs = [gr.Markdown(elem_id="audit-summary"), gr.Dataframe(label="Per clip", elem_id="audit-table"),
               gr.Plot(label="Predicted against true EF"),
               gr.File(label="Downloads (CSV, HTML report, JSON with the summary and the run's record)",
                       file_count="multiple")]
    auditing = run.click(events.on_audit, [files, folder, model_state], outputs, api_name="audit", **HEAVY)
    auditing.failure(events.on_audit_failed, None, outputs, api_visibility="private")   # nothing of the audit before
    return outputs


def _evidence_tab() -> list:
    """The model cards (filled when the models load), the benchmark table and every recipe tried."""
    with gr.Row():
        cards = [gr.Markdown() for _ in ROLES]
    gr.Markdown(evidence.evidence_markdown(), elem_id="evidence")
    figure, caption = evidence.recipes_figure()
    gr.Markdown(caption, elem_id="recipes-caption")
    if figure is not None:
        gr.Plot(figure, label="Every recipe tried", elem_id="recipes-plot")
    return cards
