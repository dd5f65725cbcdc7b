"""The headless CLI: `python app.py analyze`, `audit` and `models`, their files and their errors."""
import html
import os
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from echo.phantom import render_clip
from echo.writers import write_avi, write_npz

ROOT = Path(__file__).resolve().parents[1]
ENV = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


def app(*args, timeout=300, cwd=ROOT):
    Path(cwd).mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def test_analyze_writes_the_report_schema_maps_and_html(tmp_path):
    clip = write_npz(tmp_path / "beat.npz", render_clip(11, "adult", n_frames=48, size=112, fps=50))
    run = app("analyze", str(clip), "--out", str(tmp_path / "out"), "--quick")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("(beat view ") == 4                  # each model's EFs and their errors (a phantom clip)
    assert run.stdout.count(" EF points against the ground truth") == 2
    assert "Loading weights" not in run.stderr                    # no progress bars in a scripted run
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    phase = report["clip"].pop("phase")
    assert report["clip"] == {"frames": 48, "fps": 50.0, "height": 112, "width": 112, "source": str(clip),
                              "population": "adult", "degradation": None, "fps_source": "file"}   # what the file says
    truth = render_clip(11, "adult", n_frames=48, size=112, fps=50).truth                   # the phase the loops use
    assert phase["source"] == "truth" and phase["beat_found"] and phase["ed_frames"] == list(truth.ed_frames)
    assert phase["es_frames"] == list(truth.es_frames) and phase["frames_per_beat"] == pytest.approx(
        truth.frames_per_beat(), abs=0.01)
    assert report["ground_truth"]["ef"] == render_clip(11, "adult", n_frames=2).truth.ef     # as read, as the EFs
    assert set(report["models"]) == {"jepa", "mae"}
    for role, m in report["models"].items():
        assert {"name", "family", "ef", "ef_beat", "focus", "degradation", "trajectory", "speckle_ratio", "ef_blank",
                "crop_check"} <= set(m)
        assert m["crop_check"]["pixels"] == 2 and len(m["crop_check"]["ef"]) == 2
        assert m["family"] == role and 0 < m["ef"] < 100 and 0 < m["ef_beat"] < 100 and m["focus"]["rollout"] > 0
        assert "not a measurement" in m["warning"]
        assert not m["warning"].startswith("Real or unknown clip")                  # a phantom NPZ
        assert set(m["degradation"]) >= {"depth_attenuation_1.50", "shadow_high", "haze_med"}
        assert all(isinstance(d["ef_beat"], float) for d in m["degradation"].values())   # beat view may leave 0-100
        t = m["trajectory"]
        assert t["method"] == "pca" and len(t["coords"][0]) == 3 and t["phase_error_deg"] is not None
        assert len(t["frames"]) == len(t["coords"]) and t["frames"][-1] < t["clip_frames"]     # which frame each point is
        heat = np.load(out / f"{role}.rollout.npy")
        assert heat.dtype == np.float32 and heat.shape == (16, 112, 112) and heat.min() == 0 and heat.max() == 1
        assert (out / f"{role}.rollout.mp4").stat().st_size > 1000 and (out / f"{role}.trajectory.json").is_file()
    assert "<html>" in (out / "report.html").read_text()[:200].lower()
    assert (out / "report.html").read_text().count("Crop check: with the clip 2 px higher / lower") == 2
    for role, m in report["models"].items():            # stdout warns where report.html does
        warned = f"warning: {role} ({m['name']}): Crop check: with the clip 2 px higher" in run.stdout
        assert warned == (max(abs(v - m[k]) for k in ("ef", "ef_beat") for v in m["crop_check"][k]) > 5.0)
    page = (out / "report.html").read_text()
    assert "<h1>EchoLens analysis: beat.npz</h1>" in page and str(tmp_path) not in page    # no folder of this host
    for role, m in report["models"].items():            # an EF its probe also reads from an all-black clip is warned
        for key, probe in (("ef", "The attentive probe"), ("ef_beat", "The beat view's probe")):
            near = abs(m[key] - m[f"{key}_blank"]) <= 3.0
            assert m[f"{key}_near_blank"] == near
            said = f"warning: {role} ({m['name']}): {probe} also reads {m[f'{key}_blank']:.1f}% from an all-black clip"
            assert (said in run.stdout) == near and (f"{probe} also reads {m[f'{key}_blank']:.1f}%" in page) == near
    for role, m in report["models"].items():            # the card's disagreement, said whatever else holds it back
        disagree = abs(m["ef"] - m["ef_beat"]) > 10
        assert (f"warning: {role} ({m['name']}): its two probes disagree by" in run.stdout) == disagree
        assert (f"{m['name']}: its two probes disagree by" in page) == disagree
    for role, m in report["models"].items():            # the prediction card's best estimate, or why there is none
        best = m["best_estimate"]
        assert best["words"] in run.stdout and html.escape(best["words"]) in page and "**" not in best["words"]
        if abs(m["ef"] - m["ef_beat"]) > 10 or m["ood"]["out_of_distribution"]:
            assert best["ef"] is None and best["words"].startswith("No best estimate: ")
        if best["ef"] is not None:                      # one of its two EFs, through the view it names
            assert best["ef"] == pytest.approx(m["ef" if best["view"] == "attentive probe" else "ef_beat"], abs=0.01)
            assert best["words"].startswith(f"Best estimate: EF {best['ef']:.1f}% (")
    made = report["run"]
    assert {r: v["name"] for r, v in made["models"].items()} == {"jepa": "jepa-small", "mae": "mae-small"}
    assert made["threads"] >= 1 and made["host"]["cores"] and "analyze" in made["command"] and made["time_utc"]
    assert f"mae-small (files {made['models']['mae']['files_digest']})" in page and made["time_utc"] in page


def test_analyze_of_a_real_looking_clip_warns_and_has_no_truth(tmp_path):
    frames = render_clip(12, "adult", n_frames=40, size=112, fps=50).frames
    avi = write_avi(tmp_path / "patient.avi", frames, 50)
    run = app("analyze", str(avi), "--out", str(tmp_path / "o"), "--quick", "--colours", "viridis")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["ground_truth"] is None
    assert all(m["warning"].startswith("Real or unknown clip") and m["focus"]["rollout"] is None
               and m["focus_note"].startswith("no focus ratio: the clip has no anatomy labels")
               for m in report["models"].values())
    # --colours: the overlays in that scale (each strip frame's colour bar is viridis's, not turbo's)
    from PIL import Image
    from explain.overlay import colour_bar
    assert report["run"]["colours"] == "viridis"
    strip = np.asarray(Image.open(tmp_path / "o" / "jepa.rollout.png").convert("RGB"))
    bar = colour_bar(strip.shape[0], colours="viridis")
    width = strip.shape[1] // 8                                               # 8 frames, each with its bar
    assert np.array_equal(strip[:, width - bar.shape[1]:width], bar)
    assert not np.array_equal(bar, colour_bar(strip.shape[0]))


def test_cli_errors_name_the_problem_and_leave_nothing_behind(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    run = app("analyze", str(bad), "--out", str(tmp_path / "never"))
    assert run.returncode == 2 and "bad.mp4" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "never").exists()
    run = app("analyze", str(bad), "--out", str(tmp_path / "never"), "--colours", "jet")
    assert run.returncode == 2 and "invalid choice: 'jet'" in run.stderr and "viridis" in run.stderr
    assert not (tmp_path / "never").exists()
    run = app("models", "--models", str(tmp_path / "missing"))
    assert run.returncode == 2 and "no such folder" in run.stderr
    (tmp_path / "empty").mkdir()
    run = app("models", "--models", str(tmp_path / "empty"))
    assert run.returncode == 0 and f"note: no model or checkpoint found in {tmp_path / 'empty'}" in run.stdout


def test_models_lists_the_shipped_pair():
    run = app("models")
    assert run.returncode == 0 and "jepa-small" in run.stdout and "mae-small" in run.stdout
    assert "ViT 192d x 6 layers" in run.stdout


def test_audit_cli_writes_csv_and_html_naming_an_unreadable_clip(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    write_npz(folder / "x.npz", render_clip(13, "adult", n_frames=40, size=112, fps=50))
    (folder / "fake.mp4").write_text("this is text, not video\n")
    np.save(folder / "black.npy", np.zeros((40, 112, 112), np.uint8))   # read, then refused: a row, not the end
    run = app("audit", str(folder), "--out", str(tmp_path / "a"))
    assert run.returncode == 0, run.stderr
    assert "3 clips, 2 unreadable (" in run.stdout and "fake.mp4: " in run.stdout and "jepa-small: 1 clip predicted; EF mean absolute error " in run.stdout
    assert "black.npy: 'black.npy' holds no image" in run.stdout
    assert (tmp_path / "a" / "audit.csv").read_text().count("\n") == 4
    page = (tmp_path / "a" / "audit.html").read_text()
    assert "3 clips, 2 unreadable (" in page and "<li>mae-small: 1 clip predicted" in page
    assert "{'clips'" not in page                                  # the summary in words, not a Python dict


def test_audit_cli_fails_when_no_clip_could_be_read_or_given_a_file(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "fake.mp4").write_text("this is text, not video\n")
    run = app("audit", str(folder), "--out", str(tmp_path / "a"))
    assert run.returncode == 2 and "no clip in" in run.stderr and "Traceback" not in run.stderr
    assert "fake.mp4: " in run.stdout                              # and why not, file by file
    np.save(folder / "ok.npy", render_clip(3, "adult", n_frames=40, size=112, fps=50).frames)   # after fake.mp4
    run = app("audit", str(folder), "--out", str(tmp_path / "limited"), "--time-limit", "0.000001")
    said = run.stderr.split("audited could be read, and ")[-1]              # one clip tried before the limit, or none
    assert run.returncode == 2 and said.startswith(("1 was not reached (the audit stopped first)", "2 were not reached"))
    run = app("audit", str(folder / "fake.mp4"), "--out", str(tmp_path / "b"))
    assert run.returncode == 2 and "is a file, not a folder" in run.stderr and not (tmp_path / "b").exists()
    for limit in ("-1", "nan", "ten"):                             # a time limit that would stop at once, or none
        run = app("audit", str(folder), "--out", str(tmp_path / "c"), "--time-limit", limit)
        assert run.returncode == 2 and "--time-limit" in run.stderr and "minutes" in run.stderr
        assert not (tmp_path / "c").exists()


def test_analyze_says_when_a_clip_lies_outside_the_models_training_and_replaces_an_earlier_run(tmp_path):
    """A clip of noise still gets an EF from each probe; the verdict that it is out of distribution must be
    said beside it (it was in report.json alone). A folder reused keeps no file of the clip before. An all-black
    clip is refused (it got a confident EF), before the folder of an earlier analysis is touched."""
    black, noise = tmp_path / "black.npy", tmp_path / "noise.npy"
    np.save(black, np.zeros((48, 112, 112), np.uint8))
    np.save(noise, np.random.default_rng(0).integers(0, 255, (48, 112, 112), dtype=np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")                          # an earlier analysis was written here
    (out / "jepa.paper.mp4").write_bytes(b"an earlier clip's map")
    (out / "mine.txt").write_text("the user's own file")
    (out / "jepa.pt").write_bytes(b"the user's checkpoint, named like the role")
    run = app("analyze", str(black), "--out", str(out), "--quick")
    assert run.returncode == 2 and "'black.npy' holds no image" in run.stderr and "Traceback" not in run.stderr
    assert (out / "jepa.paper.mp4").is_file() and (out / "report.json").read_text() == "{}"
    run = app("analyze", str(noise), "--out", str(out), "--quick")
    assert run.returncode == 0, run.stderr
    assert "warning: jepa (jepa-small): Out-of-distribution score " in run.stdout
    assert "this clip scores higher than every one of them): outside the phantom training distribution" in run.stdout
    assert not (out / "jepa.paper.mp4").exists() and (out / "mine.txt").is_file() and (out / "jepa.pt").is_file()
    page = (out / "report.html").read_text()
    assert "<p><b>Out-of-distribution score " in page and "): outside the phantom training distribution" in page
    assert "focus ratio on cardiac structures: rollout n/a (the clip has no anatomy labels or LV tracings on the frames the model sees)" in page
    assert '{"rollout"' not in page and "(beat view " in page


def test_cli_refuses_an_output_path_that_is_a_file_and_a_device_this_torch_lacks(tmp_path):
    import torch
    clip = write_npz(tmp_path / "c.npz", render_clip(14, "adult", n_frames=40, size=112, fps=50))
    run = app("analyze", str(clip), "--out", str(clip), "--quick")
    assert run.returncode == 2 and "is a file, not a folder" in run.stderr and "Traceback" not in run.stderr
    run = app("analyze", str(clip), "--out", str(clip / "sub"), "--quick")
    assert run.returncode == 2 and "a parent of the output folder, is a file" in run.stderr
    for command in (("analyze", str(clip), "--quick"), ("audit", str(tmp_path))):
        # an empty --out wrote a report into the working directory; one that cannot be written was found only at
        # the first write, after the work (and named the hidden staging folder)
        run = app(*command, "--out", "", cwd=tmp_path / "cwd")
        assert run.returncode == 2 and "argument --out: an empty path; name an output folder" in run.stderr
        assert not any((tmp_path / "cwd").iterdir())
        for bad, said in ((tmp_path / "gone", "a link to"), (tmp_path / ("a" * 300) / "report", "File name too long")):
            if bad.name == "gone" and not bad.is_symlink():
                bad.symlink_to(tmp_path / "nowhere")                          # found only at the last write
            run = app(*command, "--out", str(bad))                           # an OSError was a traceback
            assert run.returncode == 2 and said in run.stderr and "Traceback" not in run.stderr, run.stderr
        run = app(*command, "--out", "/sys/echolens-report")
        assert run.returncode == 2 and "The output folder '/sys/echolens-report' cannot be written (it would be " \
            "made in '/sys')" in run.stderr and "Choose another folder" in run.stderr and "Traceback" not in run.stderr
    if not torch.cuda.is_available():
        run = app("analyze", str(clip), "--out", str(tmp_path / "o"), "--device", "cuda", "--quick")
        assert run.returncode == 2 and "no CUDA device" in run.stderr and "Traceback" not in run.stderr
        assert not (tmp_path / "o").exists()
    run = app("analyze", str(clip), "--out", str(tmp_path / "o"), "--device", "tpu", "--quick")
    assert run.returncode == 2 and "Unknown device 'tpu': use cuda, mps or cpu." in run.stderr


def test_serve_refuses_a_bad_port_host_or_models_folder_before_starting(tmp_path):
    """A port outside 1-65535 gave an OverflowError traceback (and could abort, rc 134); a host that is no address
    gave Gradio's 'Cannot find empty port'; a missing --models folder was served without a word (`models` refuses
    it). Each is refused in one error line, rc 2, before the models load."""
    for port in ("99999", "-1", "0"):
        run = app("--port", port, timeout=60)
        assert run.returncode == 2 and "argument --port: " in run.stderr and "give one from 1 to 65535" in run.stderr
        assert "Traceback" not in run.stderr
    run = app("--host", "256.1.1.1", timeout=60)
    assert run.returncode == 2 and "Cannot find empty port" not in run.stderr
    assert run.stderr == ("error: --host 256.1.1.1 is not an IP address or a name this machine resolves: give an "
                          "address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every network)\n")
    run = app("--models", str(tmp_path / "missing"), timeout=60)
    assert run.returncode == 2 and run.stderr == f"error: no such folder or file: {tmp_path / 'missing'}\n"


def test_serve_refuses_a_port_in_use_in_one_line(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = app("--port", str(port), timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "terminate called" not in run.stderr
    assert run.stderr == (f"error: cannot serve on 127.0.0.1:{port} (Address already in use): give another --port "
                          "or --host, or stop what uses it\n")


def test_analyze_loads_the_checkpoints_brought_at_frames_and_skips_a_view_over_budget_saying_how(
        tmp_path, monkeypatch, capsys):
    """`--frames N` loads the checkpoints given at N frames, as the page's 'Frames for large checkpoints' does; a
    view estimated over the CPU budget is skipped for that model, with a note naming --frames on stdout, in
    report.json and report.html, and the rest is written. Before, analyze had no --frames, and a ViT-B at its own
    16 frames stopped with exit 2 and an empty folder. In-process, the estimate monkeypatched: tiny checkpoints."""
    import torch
    from builders import videomae_checkpoint, vjepa2_checkpoint

    from app import cli
    from explain.analysis import budget
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "vjepa.pt")
    torch.save(videomae_checkpoint(width=64, dec=64), tmp_path / "videomae.pth")
    # a JEPA pass "10 s": the trajectory's 41 passes are over the 300-s budget, every other view under it
    monkeypatch.setattr(budget, "cpu_seconds", lambda m, passes: 10.0 * passes if m.family == "jepa" else 0.0)
    clip = write_npz(tmp_path / "beat.npz", render_clip(5, "adult", n_frames=40, size=64, fps=50))
    out = tmp_path / "out"
    rc = cli.main(["analyze", str(clip), "--out", str(out), "--quick", "--jepa", str(tmp_path / "vjepa.pt"),
                   "--mae", str(tmp_path / "videomae.pth"), "--frames", "4", "--device", "cpu"])
    said = capsys.readouterr()
    assert rc == 0, said.err
    report = json.loads((out / "report.json").read_text())
    assert {r: m["frames"] for r, m in report["run"]["models"].items()} == {"jepa": 4, "mae": 4}
    assert [len(m["trajectory"]["coords"]) > 0 for m in report["models"].values()] == [False, True]
    note = report["models"]["jepa"]["skipped_views"]["trajectory"]
    assert note.startswith("The trajectory view on vjepa would take about 7 min on this CPU (41 forward passes")
    assert "analyze again with --frames 2 (" in note and report["models"]["mae"]["skipped_views"] == {}
    assert f"note: jepa (vjepa): {note}\n" in said.out
    assert html.escape(note) in (out / "report.html").read_text()
    assert all(m["degradation"]["shadow_high"]["ef"] is None for m in report["models"].values())   # no probe: null
    assert not (out / "jepa.trajectory.json").exists() and (out / "mae.trajectory.json").is_file()


def test_frames_leaves_a_shipped_model_at_its_own_count_says_so_and_refuses_a_non_count(tmp_path, capsys,
                                                                                          shipped_pair, smoke_models):
    import torch
    from builders import vjepa2_checkpoint

    from app import cli
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "vjepa.pt")
    for command in ("analyze", "audit"):                 # both load through cli.load_models
        args = cli.parser().parse_args([command, "x", "--out", "o", "--jepa", str(tmp_path / "vjepa.pt"),
                                        "--frames", "4", "--device", "cpu"])
        pair = cli.load_models(args)
        assert pair["jepa"].input_shape == (4, 224) and pair["jepa"].frames_override == 4
        assert pair["mae"].input_shape == shipped_pair["mae"].input_shape and pair["mae"].frames_override is None
        own = shipped_pair["mae"].input_shape[0]
        assert capsys.readouterr().out == (f"note: mae (mae-small) is shipped with EchoLens and keeps its own {own} "
                                           "frames: --frames applies to the models you bring\n")
    # a model brought at the count it was saved with runs as saved, and is not called one shipped with EchoLens
    from explain.analysis.pair import saved_frames
    folder = smoke_models[0]
    args = cli.parser().parse_args(["analyze", "x", "--out", "o", "--jepa", folder,
                                    "--frames", str(saved_frames(folder)), "--device", "cpu"])
    assert cli.load_models(args)["jepa"].frames_override is None
    assert "jepa" not in capsys.readouterr().out
    for bad, why in (("0", "0 is not a frame count"), ("eight", "'eight' is not a frame count")):
        with pytest.raises(SystemExit):
            cli.parser().parse_args(["analyze", "x", "--out", "o", "--frames", bad])
        assert f"argument --frames: {why}" in capsys.readouterr().err
    clip = write_npz(tmp_path / "beat.npz", render_clip(5, "adult", n_frames=40, size=64, fps=50))
    assert cli.main(["analyze", str(clip), "--out", str(tmp_path / "o"), "--jepa", str(tmp_path / "vjepa.pt"),
                     "--frames", "3", "--device", "cpu"]) == 2            # not whole tubelets: the loader's rule
    assert "tubelet" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_analyze_and_audit_record_what_converting_a_checkpoint_assumed(tmp_path, capsys, shipped_pair):
    """A native V-JEPA 2 checkpoint stores no crop size or head count: the app's models line said what was assumed,
    but report.json, the console and report.html said nothing (only the HTML's embedded script held the words), so
    a report at an assumed 224 px read as one at a size the checkpoint states. Now report.json's run record (and
    the audit's) carries the conversion, analyze and audit print a note per converted model, and report.html says it
    beside the run's record; a shipped model, which has its own card, has none. In-process: a tiny checkpoint."""
    import torch
    from builders import vjepa2_checkpoint

    from app import cli
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "vjepa.pt")
    clip = write_npz(tmp_path / "beat.npz", render_clip(5, "adult", n_frames=40, size=64, fps=50))
    out = tmp_path / "out"
    rc = cli.main(["analyze", str(clip), "--out", str(out), "--quick", "--jepa", str(tmp_path / "vjepa.pt"),
                   "--frames", "4", "--device", "cpu"])
    said = capsys.readouterr()
    assert rc == 0, said.err
    report = json.loads((out / "report.json").read_text())
    made = report["run"]["models"]
    assert set(made["jepa"]) == {"name", "family", "loaded_from", "frames", "files_digest", "conversion"}
    conv = made["jepa"]["conversion"]
    assert conv["format"] == "vjepa2-native" and made["mae"]["conversion"] is None       # the shipped MAE: its card
    assert [n.split(" (")[0] for n in conv["assumed"]] == ["size 224 assumed", "1 heads assumed for width 64",
                                                           "1 predictor heads assumed for width 16"]  # frames: given
    assert conv["notes"] == [] and conv["ignored"] == conv["missing"] == conv["unexpected"] == []
    line = ("note: jepa (vjepa): converted from a vjepa2-native checkpoint, which does not store all it needs; "
            "assumed: size 224, 1 heads for width 64, 1 predictor heads for width 16 (report.json's "
            "run.models.jepa.conversion says each in full)\n")
    assert line in said.out and said.out.count("converted from") == 1
    page = (out / "report.html").read_text()
    assert html.escape(f"⚠️ JEPA vjepa was converted from a vjepa2-native checkpoint, which does not store all it "
                       f"needs: {conv['assumed'][0]}; ") in page
    assert page.index("⚠️ JEPA vjepa was converted") < page.index("by EchoLens at commit")     # beside the record
    folder = tmp_path / "clips"                              # the audit shares the run record, and says it too
    folder.mkdir()
    write_npz(folder / "x.npz", render_clip(6, "adult", n_frames=40, size=64, fps=50))
    assert cli.main(["audit", str(folder), "--out", str(tmp_path / "a"), "--jepa", str(tmp_path / "vjepa.pt"),
                     "--frames", "4", "--device", "cpu"]) == 0
    assert line.replace("report.json", "audit.json") in capsys.readouterr().out
    audited = json.loads((tmp_path / "a" / "audit.json").read_text())["run"]["models"]
    assert audited["jepa"]["conversion"] == conv and audited["mae"]["conversion"] is None
    assert "vjepa (files " in (tmp_path / "a" / "audit.html").read_text() and \
        "; converted from a vjepa2-native checkpoint, which does not store all it needs; assumed: size 224, " in \
        (tmp_path / "a" / "audit.html").read_text()


def test_options_that_would_do_nothing_are_refused_not_passed_over(tmp_path, capsys):
    """`--models DIR models` listed the shipped models as if DIR were not given (the subcommand's own --models
    default overwrote it); --port, --host, --auth-file, --server-paths and --models were accepted by analyze and
    audit and ignored."""
    from app import cli
    assert cli.main(["--models", str(tmp_path / "nowhere"), "models"]) == 2
    assert "no such folder or file" in capsys.readouterr().err
    for given in (["--port", "9999"], ["--host", "0.0.0.0"], ["--auth-file", "a.txt"], ["--models", str(tmp_path)]):
        for command in (["analyze", "c.npz"], ["audit", "folder"]):
            with pytest.raises(SystemExit) as stop:
                cli.main([*given, *command, "--out", str(tmp_path / "o")])
            assert stop.value.code == 2 and f"{given[0]} " in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_rescale_reaches_the_reader_of_analyze_and_of_every_audited_clip(tmp_path, monkeypatch, capsys):
    """The page stretches 16-bit or float pixels when its box is ticked; the command line could not, and its
    error told the user to tick a box it does not have."""
    import echo.readers
    from app import cli
    from echo.readers import ClipError
    from explain.analysis.audit import clips_in
    deep = tmp_path / "clips" / "deep.npy"
    deep.parent.mkdir()
    np.save(deep, (np.random.default_rng(0).integers(0, 4000, (40, 64, 64))).astype(np.uint16))
    with pytest.raises(ClipError):
        clips_in(deep.parent)[0].load()
    assert clips_in(deep.parent, rescale=True)[0].load().frames.dtype == np.uint8
    seen = []

    def reader(path, rescale=False):
        seen.append(rescale)
        raise ClipError("stop here")
    monkeypatch.setattr(echo.readers, "read_clip", reader)
    assert cli.main(["analyze", str(deep), "--out", str(tmp_path / "o"), "--rescale"]) == 2
    assert cli.main(["analyze", str(deep), "--out", str(tmp_path / "o")]) == 2
    assert seen == [True, False] and "stop here" in capsys.readouterr().err


def test_a_reader_that_leaves_the_pipe_is_not_an_error():
    """`analyze ... | head -1` printed 'error: [Errno 32] Broken pipe', rc 2, though every file was written. Run in a
    process of its own: the handler points this process's stdout at /dev/null."""
    script = ("import sys\nfrom app import cli\n"
              "def listing(args):\n    print('a line left unread')\n    raise BrokenPipeError(32, 'Broken pipe')\n"
              "cli.models = listing\nsys.exit(cli.main(['models']))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 141 and run.stderr == "", run.stderr


def test_a_server_stopped_while_its_page_is_built_exits_quietly(monkeypatch, capsys):
    """Ctrl-C or SIGTERM while the page was built (before Gradio's launch, which returns on its own) gave a
    traceback through Gradio and rc 130; it exits 0 after the warm-up, as a stop while serving does."""
    import signal
    import threading

    import app.layout
    import app.warmup
    from app import cli

    def build(models):
        raise KeyboardInterrupt
    monkeypatch.setattr(app.layout, "build", build)
    monkeypatch.setattr(app.warmup, "warm_up_in_background", lambda: threading.Thread(target=lambda: None))
    monkeypatch.setenv("GRADIO_TEMP_DIR", os.environ.get("GRADIO_TEMP_DIR", "/tmp"))
    before = signal.getsignal(signal.SIGTERM)
    try:
        assert cli.serve(cli.parser().parse_args(["--port", str(free_port())])) == 0
    finally:
        signal.signal(signal.SIGTERM, before)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_key_errors_message_is_printed_as_written(monkeypatch, capsys):
    """A KeyError (an EchoNet name the dataset lacks, a recipe) printed its repr: error: "'x' is not among ...",
    quotes doubled; the page showed the message itself. One helper (app.error_text) for both."""
    from app import cli
    from app.error_text import error_text

    def listing(args):
        raise KeyError("'x.avi' is not among this dataset's videos.")
    monkeypatch.setattr(cli, "models", listing)
    assert cli.main(["models"]) == 2
    assert capsys.readouterr().err == "error: 'x.avi' is not among this dataset's videos.\n"
    assert error_text(KeyError("a")) == "a" and error_text(ValueError("b")) == "b" and error_text(KeyError()) == ""


@pytest.mark.parametrize("stopped_in", ["severity_sweep", "write_overlay_strip"])
def test_an_interrupted_analysis_keeps_the_earlier_report_whole_and_leaves_no_partial_files(tmp_path, monkeypatch,
                                                                                           capsys, shipped_pair,
                                                                                           stopped_in):
    """Ctrl-C during the slow views (severity_sweep) had removed the earlier report's files as soon as the clip was
    predicted, leaving an empty folder and a traceback; Ctrl-C while the report's videos were written
    (write_overlay_strip, after the first rollout map and video) had removed it and left part of the new one. The
    files are written beside the earlier report and moved in only once all of them are."""
    from app import cli
    from explain.analysis import report

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, stopped_in, interrupted)
    monkeypatch.setattr(cli, "load_models", lambda args: shipped_pair)
    clip = write_npz(tmp_path / "beat.npz", render_clip(7, "adult", n_frames=40, size=112, fps=50))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": true}')
    (out / "jepa.rollout.npy").write_bytes(b"an earlier clip's map")
    (out / "notes.txt").write_text("mine")
    assert cli.main(["analyze", str(clip), "--out", str(out), "--quick"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert sorted(p.name for p in out.iterdir()) == ["jepa.rollout.npy", "notes.txt", "report.json"]
    assert (out / "report.json").read_text() == '{"earlier": true}'
    assert (out / "jepa.rollout.npy").read_bytes() == b"an earlier clip's map"
