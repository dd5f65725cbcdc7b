"""Writers, checked by decoding what they wrote."""
from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from echo.clip import Clip, ClipError
from echo.writers import strip_indices, write_avi, write_frame_strip, write_mp4
from builders import colour_clip, gray_clip


def decode(path) -> tuple[str, float, np.ndarray]:
    """(codec name, fps, (T, H, W, 3) RGB frames) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return stream.codec_context.name, float(stream.average_rate), frames


def test_mp4_is_h264_yuv420p_faststart(tmp_path):
    frames = gray_clip(t=9)
    path = write_mp4(tmp_path / "a.mp4", frames, 25)
    codec, fps, decoded = decode(path)
    assert codec == "h264" and fps == 25 and len(decoded) == 9
    assert np.abs(decoded[..., 0].astype(int) - frames).mean() < 3
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: browsers start playing early


def test_mp4_odd_size_padded_even_and_colour_kept(tmp_path):
    frames = colour_clip(h=23, w=31)
    _, _, decoded = decode(write_mp4(tmp_path / "a.mp4", frames, 30))
    assert decoded.shape == (len(frames), 24, 32, 3)
    assert np.abs(decoded[:, :23, :31].astype(int) - frames).mean() < 6
    assert decoded[:, 23].max() < 40  # the added row is black


def test_mp4_pads_an_odd_size_a_frame_at_a_time(tmp_path):
    """A padded copy of the whole clip was one more clip in memory while a video of an odd size was written."""
    import tracemalloc
    frames = np.ascontiguousarray(np.repeat(np.repeat(colour_clip(t=24, h=63, w=95), 4, axis=1), 4, axis=2))
    tracemalloc.start()
    try:
        path = write_mp4(tmp_path / "odd.mp4", frames[:, 1:, 1:], 30)                 # (24, 251, 379, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decode(path)[2].shape == (24, 252, 380, 3) and peak < frames.nbytes / 4


def test_mp4_takes_frames_one_at_a_time(tmp_path):
    """The app's outlined video of a clip as loaded was a whole RGB copy (about a grey clip's own size); the writer
    now encodes frames as an iterator yields them: the same video, a frame's memory, and a frame that does not match
    the first refused by name with no file left."""
    import tracemalloc
    frames = colour_clip(t=12, h=23, w=31)
    _, _, whole = decode(write_mp4(tmp_path / "whole.mp4", frames, 30))
    _, fps, streamed = decode(write_mp4(tmp_path / "streamed.mp4", iter(list(frames)), 30))
    assert fps == 30 and streamed.shape == whole.shape == (12, 24, 32, 3)
    for video in (whole, streamed):                                    # x264 threads: two runs differ in detail
        assert np.abs(video[:, :23, :31].astype(int) - frames).mean() < 6 and video[:, 23].max() < 40

    big = np.repeat(np.repeat(frames[0], 8, axis=0), 8, axis=1)                   # (184, 248, 3)
    tracemalloc.start()
    try:
        write_mp4(tmp_path / "long.mp4", (big for _ in range(60)), 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(decode(tmp_path / "long.mp4")[2]) == 60 and peak < 60 * big.nbytes / 10

    odd = iter([frames[0], frames[1], frames[2, :20]])
    with pytest.raises(ClipError, match=r"Frame 2 is \(20, 31, 3\) uint8; the first was \(23, 31, 3\)"):
        write_mp4(tmp_path / "odd.mp4", odd, 30)
    assert not (tmp_path / "odd.mp4").exists()
    with pytest.raises(ClipError, match="no frames"):
        write_mp4(tmp_path / "none.mp4", iter([]), 30)
    with pytest.raises(ClipError, match="frame rate"):
        write_mp4(tmp_path / "none.mp4", iter(list(frames)))
    assert not (tmp_path / "none.mp4").exists()


def test_mp4_from_clip_uses_its_fps(tmp_path):
    _, fps, _ = decode(write_mp4(tmp_path / "a.mp4", Clip(gray_clip(), 29.97)))
    assert fps == pytest.approx(29.97, abs=0.01)


def test_avi_is_mjpeg_like_echonet(tmp_path):
    frames = gray_clip(h=112, w=112)
    codec, fps, decoded = decode(write_avi(tmp_path / "a.avi", frames, 50))
    assert codec == "mjpeg" and fps == 50 and len(decoded) == len(frames)
    assert np.abs(decoded[..., 0].astype(int) - frames).mean() < 2


def test_frame_strip(tmp_path):
    frames = gray_clip(t=20)
    with Image.open(write_frame_strip(tmp_path / "s.png", frames, n=4)) as strip:
        pixels = np.asarray(strip)
    assert pixels.shape == (frames.shape[1], 4 * frames.shape[2])
    assert np.array_equal(pixels[:, : frames.shape[2]], frames[0])
    assert np.array_equal(pixels[:, -frames.shape[2]:], frames[-1])
    assert list(strip_indices(20, 4)) == [0, 6, 13, 19] and list(strip_indices(3, 8)) == [0, 1, 2]


def test_frame_strip_of_colour_clip(tmp_path):
    with Image.open(write_frame_strip(tmp_path / "s.png", Clip(colour_clip(), 30), n=2)) as strip:
        assert strip.mode == "RGB" and strip.size == (64, 24)


@pytest.mark.parametrize("frames, fps, problem", [
    (gray_clip().astype(np.float32), 25, "8-bit"),
    (np.zeros((4, 8, 8, 2), np.uint8), 25, "shape"),
    (gray_clip(), None, "frame rate"),
    (gray_clip(), 0, "frame rate"),
    (np.zeros((0, 8, 8), np.uint8), 25, "no frames"),
])
def test_bad_frames_refused(tmp_path, frames, fps, problem):
    for writer in (write_mp4, write_avi):
        with pytest.raises(ClipError, match=problem):
            writer(tmp_path / "x", frames, fps)


def test_unwritable_path(tmp_path):
    with pytest.raises(ClipError, match="Could not write"):
        write_mp4(tmp_path / "missing" / "a.mp4", gray_clip(), 25)
    assert not (tmp_path / "missing").exists()
