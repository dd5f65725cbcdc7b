"""Error paths a review found untested: each refusal names the problem (and the way out where there is one)."""
import json

import numpy as np
import pytest
import torch

from echo.clip import ClipError
from echo.phantom import render_clip


def test_an_unknown_recipe_is_refused_with_the_known_ones():
    from model_zoo.recipes import RECIPES, get_recipe
    with pytest.raises(KeyError, match="unknown recipe 'smal'; known: .*small"):
        get_recipe("smal")
    assert get_recipe("small", steps=3).steps == 3 and RECIPES["small"].steps != 3       # a copy, not the registry's


def test_a_projection_refuses_what_it_cannot_place_on_one_set_of_axes():
    from explain.trajectory.projection import project
    good = np.random.default_rng(0).normal(size=(12, 8))
    for runs, dims, match in (([], 2, "non-empty"), ([good[0]], 2, "non-empty"), ([good, good[:, :4]], 2, "one embedding size"),
                              ([good], 4, "dims must be 1, 2 or 3"), ([np.where(good > 2, np.nan, good)], 2, "NaN")):
        with pytest.raises(ValueError, match=match):
            project(runs, "pca", dims)
    with pytest.raises(ValueError, match="method must be one of"):
        project([good], "tsne", 2)
    assert project([good], "pca", 2).points[0].shape == (12, 2)


def test_token_maps_refuse_an_unknown_scale_or_resize_mode():
    from explain.maps import to_frames
    values = np.random.default_rng(0).random((2, 2, 2))
    with pytest.raises(ValueError, match="Unknown scale 'sum'"):
        to_frames(values, (2, 2, 2), 2, (4, 8, 8), scale="sum")
    with pytest.raises(ValueError, match="Unknown resize mode 'cubic'"):
        to_frames(values, (2, 2, 2), 2, (4, 8, 8), mode="cubic")
    assert to_frames(values, (2, 2, 2), 2, (4, 8, 8)).shape == (4, 8, 8)


def test_a_probe_card_of_the_wrong_kind_or_a_malformed_beat_probe_is_refused(tmp_path):
    from builders import tiny_probe
    from model_zoo.probe_io import BEAT_PROBE, PROBE, load_probe, probe_files, save_probe
    save_probe(tiny_probe(), tmp_path, {})
    card = json.loads(probe_files(tmp_path)[1].read_text())
    probe_files(tmp_path, BEAT_PROBE)[1].write_text(json.dumps(card))          # an attentive card under the beat name
    with pytest.raises(ValueError, match="unsupported probe kind 'attentive' \\(expected 'beat'\\)"):
        load_probe(tmp_path, stem=BEAT_PROBE)
    probe_files(tmp_path, BEAT_PROBE)[1].write_text(json.dumps({**card, "kind": "beat"}))          # no t_slots
    with pytest.raises(ValueError, match="a beat probe needs t_slots .*None given.* and an even dim"):
        load_probe(tmp_path, stem=BEAT_PROBE)
    with pytest.raises(ValueError, match="an attentive probe cannot be saved as 'beat_probe'"):
        save_probe(tiny_probe(), tmp_path, {}, stem=BEAT_PROBE)
    assert load_probe(tmp_path, stem=PROBE).meta["kind"] == "attentive"


def test_model_input_refuses_no_clips_and_a_channel_count_no_model_takes():
    from echo.preprocess import to_model_input
    clip = render_clip(1, "adult", n_frames=16, size=64, fps=50)
    with pytest.raises(ClipError, match="No clips were given"):
        to_model_input([])
    with pytest.raises(ClipError, match="1 \\(grey\\) or 3 \\(colour\\) channels; got 2"):
        to_model_input(clip, channels=2)
    assert to_model_input(clip, channels=1, size=32).shape == (1, 16, 1, 32, 32)


def test_a_vjepa_encoder_with_a_swiglu_mlp_or_absolute_positions_is_refused():
    from model_zoo.convert.vjepa import encoder_shape, pick_encoder
    with pytest.raises(ValueError, match="SwiGLU MLP \\(mlp.fc3\\)"):
        encoder_shape({"blocks.0.mlp.fc3.weight": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match="3D sin-cos pos_embed"):
        encoder_shape({"pos_embed": torch.zeros(1, 8, 4)})
    with pytest.raises(ValueError, match="encoder must be 'target' or 'context'"):
        pick_encoder({}, "student")


def test_the_audit_tab_refuses_more_uploads_than_it_takes_at_once(shipped_pair):
    from app.views import audit
    with pytest.raises(ValueError, match=f"{audit.MAX_UPLOADS + 1} files uploaded; audit at most {audit.MAX_UPLOADS} "
                                         "at once, or give a folder"):
        audit.run([f"/nowhere/{i}.avi" for i in range(audit.MAX_UPLOADS + 1)], None, shipped_pair)


def test_side_files_that_do_not_fit_their_model_are_refused_at_load_naming_the_file(tmp_path):
    """An ood.json cut short loaded, then failed every prediction ('operands could not be broadcast'); a probe card
    whose dim the weights lack raised a RuntimeError; t_slots 'x' an int() error: none named its file."""
    import shutil
    from builders import tiny_probe
    from explain.analysis.ood import OOD_FILE, load_reference
    from explain.analysis.pair import load_model
    from model_zoo.probe_io import BEAT_PROBE, load_probe, probe_files, save_probe
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "jepa-small"
    shutil.copytree(SHIPPED / "jepa-small", folder)
    assert load_reference(folder, 192) is not None
    ood = json.loads((folder / OOD_FILE).read_text())
    (folder / OOD_FILE).write_text(json.dumps({**ood, "mean": ood["mean"][:10]}))
    with pytest.raises(ValueError, match=r"ood.json does not fit this model: mean \(10,\).* for 192-wide embeddings"):
        load_model(str(folder), "jepa")
    (folder / OOD_FILE).write_text(json.dumps({**ood, "calibration": "many"}))
    with pytest.raises(ValueError, match="ood.json: its mean, axes, variances"):
        load_reference(folder)
    save_probe(tiny_probe(), tmp_path, {})
    card = json.loads(probe_files(tmp_path)[1].read_text())
    probe_files(tmp_path)[1].write_text(json.dumps({**card, "dim": card["dim"] * 2}))
    with pytest.raises(ValueError, match="probe.safetensors does not fit probe.json beside it"):
        load_probe(tmp_path)
    probe_files(tmp_path)[1].write_text(json.dumps({**card, "heads": "two"}))
    with pytest.raises(ValueError, match="must be positive whole numbers"):
        load_probe(tmp_path)
    probe_files(tmp_path, BEAT_PROBE)[1].write_text(json.dumps({**card, "kind": "beat", "t_slots": "x"}))
    with pytest.raises(ValueError, match="a beat probe needs t_slots \\(a positive whole number; 'x' given\\)"):
        load_probe(tmp_path, stem=BEAT_PROBE)


def test_a_probe_beside_an_encoder_it_was_not_fitted_on_is_refused_at_load_naming_its_card(tmp_path):
    """A probe for wider tokens loaded, then every prediction failed ('normalized_shape=[384]'), the other model's EF
    with it; another model's probe copied in loaded and read EF beside this model's recorded errors."""
    import shutil
    from explain.analysis.pair import load_model
    from model_zoo.probe_io import BEAT_PROBE, PROBE, probe_files, save_probe
    from model_zoo.probes import ProbeHead
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "jepa-small"
    shutil.copytree(SHIPPED / "jepa-small", folder)
    save_probe(ProbeHead(384, 4, 1.0, 55.0, 12.0), folder, {})
    with pytest.raises(ValueError, match=r"jepa-small/probe.json: this probe reads 384-d tokens; jepa-small makes "
                                         r"192-d tokens"):
        load_model(str(folder), "jepa")
    for stem in (PROBE, BEAT_PROBE):
        for path in probe_files(SHIPPED / "mae-small", stem):
            shutil.copy(path, folder / path.name)
    with pytest.raises(ValueError, match=r"probe.json: this probe was fitted on 'mae-small' \(mae\), not on "
                                         r"'jepa-small' \(jepa\)"):
        load_model(str(folder), "jepa")
    for path in probe_files(SHIPPED / "jepa-small", PROBE):
        shutil.copy(path, folder / path.name)
    with pytest.raises(ValueError, match=r"beat_probe.json: this probe was fitted on 'mae-small'"):
        load_model(str(folder), "jepa")
    for path in probe_files(SHIPPED / "jepa-small", BEAT_PROBE):
        shutil.copy(path, folder / path.name)
    loaded = load_model(str(folder), "jepa")                 # its own probes back: it loads
    assert loaded.probe is not None and loaded.beat_probe is not None


def test_the_val_only_diagnostics_share_their_options_and_defaults():
    """Four scripts had copied --n-train / --n-val / --seed / --threads: one helper now (val_options)."""
    import contextlib
    import io
    from model_zoo.experiments import degraded_probe, layer_probe, probe_protocol, shift_probe
    for module in (degraded_probe, layer_probe, probe_protocol, shift_probe):
        text = io.StringIO()
        with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
            module.main(["--help"])
        assert all(option in text.getvalue() for option in ("--n-train", "--n-val", "--seed", "--threads"))
        assert "phantom train clips the probes fit on" in text.getvalue()


def test_a_probe_given_as_a_model_names_the_command_that_attaches_it(tmp_path):
    import model_zoo
    from tests.builders import vjepa_probe_checkpoint
    torch.save(vjepa_probe_checkpoint(), tmp_path / "probe.pt")
    with pytest.raises(ValueError, match=r"probe, not an encoder: give it with the encoder it was trained on, "
                                         r"`python -m model_zoo.convert.export ENCODER --out FOLDER --probe probe.pt"):
        model_zoo.load(tmp_path / "probe.pt")


def test_a_card_or_probe_card_edited_out_of_kind_and_a_folder_without_config_are_refused_by_name(tmp_path):
    """A text 'steps' in card.json gave "Cannot specify ',' with 's'." when the model card was drawn; a pediatric
    result as a bare number an AttributeError; a probe card's mlp_ratio of 1e9 a RuntimeError out of memory, past
    the page's catch; a folder without config.json 'no model folder ... named' (the folder exists)."""
    import shutil
    from explain.analysis.pair import load_model
    from model_zoo.probe_io import load_probe, probe_files
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "jepa-small"
    shutil.copytree(SHIPPED / "jepa-small", folder)
    card = json.loads((folder / "card.json").read_text())
    for edit, field, kind in (({"steps": "1500"}, "steps", "a number"),
                              ({"results": {**card["results"], "pediatric": 7.59}}, "results.pediatric", "an object"),
                              ({"results": {**card["results"], "beat_probe": {"clean": {"mae": "x"}}}},
                               "results.beat_probe.clean.mae", "a number")):
        (folder / "card.json").write_text(json.dumps({**card, **edit}))
        with pytest.raises(ValueError, match=rf"card.json: '{field}' is .*, not {kind}.*remove card.json"):
            load_model(str(folder), "jepa")
    (folder / "card.json").write_text(json.dumps(card))
    probe = json.loads(probe_files(folder)[1].read_text())
    probe_files(folder)[1].write_text(json.dumps({**probe, "mlp_ratio": 1e9}))
    with pytest.raises(ValueError, match=r"probe.json: .*mlp_ratio 1000000000.0 be at most 16"):
        load_probe(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"jepa-small is a folder without config.json, so not a model folder; "
                                                r"it holds model.safetensors: put the config.json"):
        load_model(str(folder), "jepa")


def test_one_checkpoint_loaded_at_several_frame_counts_holds_its_weights_once(tmp_path):
    """Each frame count tried kept a whole copy of the weights in the load cache (a review measured +330 MiB for
    each of six counts of a ViT-B): the counts of one checkpoint now share every weight the count leaves alike."""
    import shutil
    from explain.analysis.pair import load_model
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "my-jepa"
    shutil.copytree(SHIPPED / "jepa-small", folder)                 # not shipped: it runs at the frames asked
    eight, four = load_model(str(folder), "jepa", frames=8), load_model(str(folder), "jepa", frames=4)
    assert eight.input_shape == (8, 112) and four.input_shape == (4, 112)
    for a, b in ((eight.wrapper.net, four.wrapper.net), (eight.wrapper.context_encoder, four.wrapper.context_encoder)):
        pairs = list(zip(a.parameters(), b.parameters()))
        assert pairs and all(p.data_ptr() == q.data_ptr() for p, q in pairs)
    mine = load_model("jepa-small", "jepa")                          # another checkpoint's weights are its own
    assert mine.wrapper.net.encoder.embeddings.patch_embeddings.proj.weight.data_ptr() != \
        eight.wrapper.net.encoder.embeddings.patch_embeddings.proj.weight.data_ptr()
