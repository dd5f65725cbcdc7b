"""model_zoo.convert.export: a native checkpoint and its V-JEPA EF probe, converted once into a model folder the app
loads with the probe (the app's boxes take no probe of their own)."""
import json

import pytest
import torch

import model_zoo
from builders import vjepa2_checkpoint, vjepa_probe_checkpoint
from model_zoo.convert.export import export, main


def test_an_exported_folder_loads_the_same_encoder_and_predicts_ef_in_the_app(tmp_path):
    from explain.analysis.pair import load_model
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")
    overrides = {"frames": 4, "size": 32}
    out = export(tmp_path / "echojepa.pt", tmp_path / "echojepa-ef", tmp_path / "ef_probe.pt",
                 ef_mean=55.0, ef_std=12.0, overrides=overrides)
    direct = model_zoo.load(tmp_path / "echojepa.pt", device="cpu", overrides={**overrides, "ef_mean": 55.0,
                                                                               "ef_std": 12.0},
                            probe=tmp_path / "ef_probe.pt")
    m = load_model(str(out), "jepa", "cpu")
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(m.wrapper.tokens(x), direct.tokens(x), atol=1e-5)
        assert torch.allclose(m.probe.ef(m.wrapper.tokens(x)), direct.probe.ef(direct.tokens(x)), atol=1e-4)
    card = json.loads((out / "card.json").read_text())
    assert card["exported_by"] and "frames 16 assumed" not in json.dumps(card)        # the frames were given
    assert m.probe.meta["source"].endswith("ef_probe.pt") and m.phantom_trained is False
    from app.views.evidence import card_markdown
    shown = card_markdown(m)
    assert "converted once by model_zoo.convert.export" in shown
    # the probe and its EF scale are said (the card said 'No EchoLens card', though export wrote one, and not a word
    # of the probe or the scale its EFs are read on)
    assert ("- **EF probe**: V-JEPA evaluation probe from `" in shown and "ef_probe.pt`, its outputs read as EF mean "
            "55.00 + std 12.00 x output" in shown and shown.endswith("Exported, not evaluated: nothing here was "
                                                                       "measured on the phantom benchmark."))


def test_export_refuses_a_probe_without_its_ef_scale_and_a_folder_in_use(tmp_path, capsys):
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")
    with pytest.raises(ValueError, match="needs the EF mean and std of its training targets"):
        export(tmp_path / "echojepa.pt", tmp_path / "a", tmp_path / "ef_probe.pt", ef_mean=55.0)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me")
    assert main([str(tmp_path / "echojepa.pt"), "--out", str(tmp_path / "used")]) == 2
    assert "is not empty" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["notes.txt"]


def test_an_exported_context_encoder_is_the_one_the_folder_reads(tmp_path):
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    overrides = {"frames": 4, "size": 32}
    out = export(tmp_path / "echojepa.pt", tmp_path / "ctx", encoder="context", overrides=overrides)
    direct = model_zoo.load(tmp_path / "echojepa.pt", device="cpu", encoder="context", overrides=overrides)
    again = model_zoo.load(out, device="cpu")
    x = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert again.readout == "context" and torch.allclose(again.tokens(x), direct.tokens(x), atol=1e-5)


@pytest.mark.parametrize("mean, std, problem", [
    (float("nan"), 12.0, "not an EF scale in %"), (55.0, 0.0, "not an EF scale in %"),
    (155.0, 12.0, "not an EF scale in %"), (0.55, 0.12, "look like EF as a fraction: give them in % \\(55 and 12\\)")])
def test_a_probe_scale_that_is_not_ef_in_percent_is_refused(tmp_path, mean, std, problem):
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")
    with pytest.raises(ValueError, match=problem):
        export(tmp_path / "echojepa.pt", tmp_path / "out", tmp_path / "ef_probe.pt", ef_mean=mean, ef_std=std)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="describe a probe: give its file with --probe"):
        export(tmp_path / "echojepa.pt", tmp_path / "out", ef_mean=55.0, ef_std=12.0)


def test_a_failed_export_leaves_nothing_it_made_and_keeps_the_users_empty_folder(tmp_path, monkeypatch):
    import model_zoo.convert.export as ex
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(ex, "save_probe", broken)
    args = dict(probe=tmp_path / "ef_probe.pt", ef_mean=55.0, ef_std=12.0, overrides={"frames": 4, "size": 32})
    with pytest.raises(OSError, match="disk full"):
        export(tmp_path / "echojepa.pt", tmp_path / "deep" / "a" / "b", **args)
    assert not (tmp_path / "deep").exists()
    (tmp_path / "mine").mkdir()
    with pytest.raises(OSError, match="disk full"):
        export(tmp_path / "echojepa.pt", tmp_path / "mine", **args)
    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="a_file is a file"):
        export(tmp_path / "echojepa.pt", tmp_path / "a_file")
    with pytest.raises(ValueError, match="already a model folder EchoLens loads"):
        export("jepa-small", tmp_path / "copy")


def test_export_names_the_head_count_it_cannot_tell_and_takes_each_as_a_flag(tmp_path, capsys):
    """Widths outside the standard table store no head count: the message names the flag that sets it (the app's
    boxes take only a path), the predictor's too, which had none."""
    torch.save(vjepa2_checkpoint(width=48), tmp_path / "odd.pt")          # predictor 16 wide
    args = [str(tmp_path / "odd.pt"), "--frames", "4", "--size", "32"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "width 48 (heads)" in err and "--heads N" in err and "overrides={'heads': N}" in err
    assert main(args + ["--out", str(tmp_path / "b"), "--heads", "3"]) == 2
    err = capsys.readouterr().err
    assert "width 16 (pred_heads)" in err and "--pred-heads N" in err
    assert main(args + ["--out", str(tmp_path / "c"), "--heads", "3", "--pred-heads", "2"]) == 0
    assert model_zoo.load(tmp_path / "c", device="cpu").family == "jepa"


def test_export_refuses_shapes_and_heads_that_cannot_be_and_a_probe_index_without_its_sweep(tmp_path, capsys):
    """A negative or zero frame count was written to the card (or dropped, 16 assumed) and failed only at the first
    prediction; a head count that does not divide the width was answered with 'export it with --heads N'."""
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")
    base = [str(tmp_path / "echojepa.pt"), "--size", "32"]
    for frames in ("-4", "0"):
        assert main(base + ["--frames", frames, "--out", str(tmp_path / f"f{frames}")]) == 2
        assert f"--frames {frames}: give a positive whole number" in capsys.readouterr().err
        assert not (tmp_path / f"f{frames}").exists()
    assert main(base + ["--frames", "4", "--heads", "7", "--out", str(tmp_path / "h")]) == 2
    assert "7 attention heads (--heads) do not divide width 64 into equal heads; choose one of 1, 2, 4, 8, 16, 32, 64" in capsys.readouterr().err
    assert main(base + ["--frames", "4", "--probe-index", "1", "--out", str(tmp_path / "p")]) == 2
    assert "no --probe was given" in capsys.readouterr().err
    probe = ["--probe", str(tmp_path / "ef_probe.pt"), "--ef-mean", "55", "--ef-std", "12"]
    assert main(base + ["--frames", "4", *probe, "--probe-index", "5", "--out", str(tmp_path / "q")]) == 2
    assert "holds one classifier, not a sweep" in capsys.readouterr().err and not (tmp_path / "q").exists()


def test_models_lists_what_an_exported_folder_assumed(tmp_path):
    """The app says what a conversion assumed beside the model; `python app.py models` dropped it for an exported folder."""
    from model_zoo.registry import list_models
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    export(tmp_path / "echojepa.pt", tmp_path / "models" / "guessed", overrides={"size": 32})
    export(tmp_path / "echojepa.pt", tmp_path / "models" / "given", overrides={"size": 32, "frames": 4, "heads": 1,
                                                                            "pred_heads": 1})
    arch = {e["name"]: e["architecture"] for e in list_models([tmp_path / "models"])}
    assert arch["guessed"].endswith("(frames 16 assumed, 1 heads assumed for width 64, 1 predictor heads assumed "
                                    "for width 16 on conversion)")
    assert "assumed" not in arch["given"]


@pytest.mark.parametrize("frames", [4, 8])
def test_a_checkpoint_without_a_predictor_exports_a_folder_that_loads_with_the_predictor_absent(tmp_path, capsys,
                                                                                                frames):
    """A target encoder alone exported cleanly, then every load of the folder failed: its config has no predictor
    (pred_num_hidden_layers 0) and its weights none, yet the network built from it wanted predictor weights."""
    from explain.analysis.pair import load_model
    ckpt = vjepa2_checkpoint(width=64, predictor=False)
    del ckpt["encoder"]                                                   # {'target_encoder': ...} only
    torch.save(ckpt, tmp_path / "target_only.pt")
    torch.save(vjepa_probe_checkpoint(width=64), tmp_path / "ef_probe.pt")
    out = tmp_path / "target-only"
    assert main([str(tmp_path / "target_only.pt"), "--out", str(out), "--probe", str(tmp_path / "ef_probe.pt"),
                 "--ef-mean", "55", "--ef-std", "12", "--frames", str(frames), "--size", "32"]) == 0
    assert "load it in the app's model box" in capsys.readouterr().out
    m = load_model(str(out), "jepa", "cpu")
    direct = model_zoo.load(tmp_path / "target_only.pt", device="cpu", overrides={"frames": frames, "size": 32})
    x = torch.randn(1, frames, 3, 32, 32)
    with torch.no_grad():
        assert m.wrapper.grid == (frames // 2, 2, 2) and m.probe is not None
        assert torch.allclose(m.wrapper.tokens(x), direct.tokens(x), atol=1e-5)
    with pytest.raises(ValueError, match="no JEPA predictor to predict latents with: target-only holds no predictor"):
        m.wrapper.predict_latents(x, torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))      # as the .pt says it
