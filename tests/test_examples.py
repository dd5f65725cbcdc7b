"""Shipped example clips and the NPZ format that carries ground truth."""
import numpy as np
import pytest

from echo.clip import Clip, ClipError
from echo.examples import EXAMPLES, EXAMPLES_DIR, load_example, render_example
from echo.phantom import render_clip
from echo.readers import read_clip
from echo.degrade import compose
from echo.writers import write_avi, write_mp4, write_npz


def test_npz_round_trip_keeps_frames_fps_and_truth(tmp_path):
    clip = render_clip(4, n_frames=12, fps=40)
    back = read_clip(write_npz(tmp_path / "c.npz", clip))
    np.testing.assert_array_equal(back.frames, clip.frames)
    assert back.fps == 40 and back.truth.ef == pytest.approx(clip.truth.ef)
    assert back.truth.ed_frames == clip.truth.ed_frames and back.truth.es_frames == clip.truth.es_frames
    np.testing.assert_array_equal(back.truth.labels, clip.truth.labels)
    np.testing.assert_allclose(back.truth.phase, clip.truth.phase)


def test_npz_keeps_a_phantom_clips_population_and_nothing_for_other_clips(tmp_path):
    child = read_clip(write_npz(tmp_path / "child.npz", render_clip(7, "pediatric", n_frames=8, fps=40)))
    assert child.meta["phantom"] is True and child.meta["population"] == "pediatric" and child.meta["seed"] == 7
    plain = Clip(frames=np.zeros((4, 16, 16), np.uint8), fps=25.0, source="scan.avi")
    back = read_clip(write_npz(tmp_path / "plain.npz", plain))
    assert "phantom" not in back.meta and "population" not in back.meta
    for name in EXAMPLES:                       # the shipped examples say which population they show
        assert read_clip(EXAMPLES_DIR / f"{name}.npz").meta["population"] == EXAMPLES[name][2]
    assert read_clip(EXAMPLES_DIR / "degraded.npz").meta["degradation"] == "shadow 0.67, depth_attenuation 0.70"
    assert "degradation" not in read_clip(EXAMPLES_DIR / "adult_normal.npz").meta


@pytest.mark.parametrize("writer", [write_mp4, write_avi])
def test_a_video_of_a_phantom_clip_carries_its_provenance_in_its_comment_tag(tmp_path, writer):
    clip = compose(render_clip(5, "pediatric", n_frames=8, fps=40), [("shadow", 0.5)], seed=1)
    back = read_clip(writer(tmp_path / f"child.{writer.__name__[-3:]}", clip))
    assert {k: back.meta.get(k) for k in ("phantom", "population", "seed", "degradation")} == {
        "phantom": True, "population": "pediatric", "seed": 5, "degradation": "shadow 0.50"}
    assert back.truth.ef == pytest.approx(clip.truth.ef, abs=1e-4) and "ef" not in back.meta   # the EF as truth
    bare = read_clip(writer(tmp_path / f"bare.{writer.__name__[-3:]}", clip.frames, 40))   # pixels alone: unknown
    assert "phantom" not in bare.meta and "population" not in bare.meta and bare.truth is None
    for name in EXAMPLES:                       # the shipped example videos too, with their EF
        video = read_clip(EXAMPLES_DIR / f"{name}.mp4")
        assert video.meta["population"] == EXAMPLES[name][2]
        assert video.truth.ef == pytest.approx(read_clip(EXAMPLES_DIR / f"{name}.npz").truth.ef, abs=1e-4)


@pytest.mark.parametrize("comment, message", [
    ('echolens-phantom {"population": "martian"}', "population 'martian', not one of adult, pediatric"),
    ("echolens-phantom {not json", "EchoLens phantom comment that cannot be read"),
    ('echolens-phantom {"population": "adult", "seed": "7"}', "not one whole number"),
    ('echolens-phantom {"population": "adult", "ef": 140}', "phantom EF that is not a percentage"),
])
def test_a_video_whose_phantom_comment_makes_no_sense_is_refused_and_other_comments_are_ignored(
        tmp_path, comment, message):
    import av

    def video(path, text):
        with av.open(str(path), "w", format="mp4") as out:
            out.metadata["comment"] = text
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            for _ in range(3):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
            out.mux(stream.encode())
        return path
    with pytest.raises(ClipError, match=message):
        read_clip(video(tmp_path / "bad.mp4", comment))
    assert "phantom" not in read_clip(video(tmp_path / "other.mp4", "exported by a scanner")).meta


@pytest.mark.parametrize("entries, message", [
    ({"phantom_population": np.asarray("martian")}, "not one of adult, pediatric"),
    ({"phantom_population": np.asarray([1.0])}, "not one of adult, pediatric"),
    ({"phantom_population": np.asarray("adult"), "phantom_seed": np.asarray(2.5)}, "not one whole number"),
    ({"phantom_seed": np.asarray(3)}, "without a 'phantom_population'"),
    ({"phantom_degradation": np.asarray("shadow 1.00")}, "'phantom_degradation' entry without a 'phantom_population'"),
    ({"phantom_population": np.asarray("adult"), "phantom_degradation": np.asarray([1, 2])},
     "'phantom_degradation' entry that is not one value"),
    ({"phantom_population": np.asarray("adult"), "phantom_degradation": np.asarray("x" * 300)}, "not one short text"),
])
def test_npz_provenance_that_makes_no_sense_is_refused(tmp_path, entries, message):
    np.savez(tmp_path / "p.npz", frames=np.zeros((5, 16, 16), np.uint8), **entries)
    with pytest.raises(ClipError, match=message):
        read_clip(tmp_path / "p.npz")


def test_npz_truth_that_does_not_fit_the_frames_is_refused(tmp_path):
    frames = np.zeros((5, 16, 16), np.uint8)
    np.savez(tmp_path / "a.npz", frames=frames, ed_frames=np.array([7]))
    with pytest.raises(ClipError, match="outside its 5 frames"):
        read_clip(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", frames=frames, labels=np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(ClipError, match="'labels' entry"):
        read_clip(tmp_path / "b.npz")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_shipped_examples_load_with_truth_and_match_their_recipe(name):
    clip = load_example(name)
    assert clip.truth is not None and clip.truth.ef == pytest.approx(EXAMPLES[name][3]["ef"])
    assert clip.n_frames == 80 and clip.fps == 50
    assert clip.truth.labels.shape == clip.frames.shape
    # The shipped file is what the recipe renders today (the phantom has not drifted from its examples).
    # Another CPU's float rounding may flip a pixel that sits on a half grey level by one (seen: 1 pixel of
    # 1,003,520 on an AMD EPYC); any drift of the phantom moves far more pixels, by more.
    diff = np.abs(clip.frames.astype(np.int16) - render_example(name).frames.astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4, f"{(diff > 0).sum()} pixels differ, by up to {diff.max()}"


def test_reduced_ef_example_is_reduced():
    assert load_example("adult_reduced_ef").truth.ef < 35 < 55 < load_example("adult_normal").truth.ef


@pytest.mark.parametrize("args", [["--help"], ["--out", "elsewhere"]])
def test_the_examples_command_answers_an_argument_without_rewriting_the_shipped_clips(args, monkeypatch, capsys):
    """`python -m echo.examples --help` rewrote every shipped example (it read no arguments)."""
    import echo.examples as examples
    monkeypatch.setattr(examples, "write_npz", lambda *a, **k: pytest.fail("rewrote a shipped example"))
    with pytest.raises(SystemExit):
        examples.main(args)
    assert "python -m echo.examples" in capsys.readouterr()[0 if args[0] == "--help" else 1]
