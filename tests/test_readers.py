"""read_clip on every supported format, made here from small synthetic clips (no network)."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian, JPEGBaseline8Bit

from builders import (H, PATIENT, T, W, close, colour_clip, dicom_file, frames_zip, gray_clip, image_bytes,
                      jpeg_frames, write_with_opencv, write_with_pyav, ybr_422)
from echo.readers import read_clip
from echo.writers import write_avi, write_mp4


def test_mjpeg_avi(tmp_path):
    frames = gray_clip()
    clip = read_clip(write_avi(tmp_path / "a.avi", frames, 50))
    assert clip.frames.shape == (T, H, W) and clip.fps == 50
    assert clip.meta["format"] == "AVI" and clip.meta["codec"] == "mjpeg"
    assert close(clip.frames, frames, 2)


def test_h264_avi(tmp_path):
    frames = gray_clip()
    clip = read_clip(write_with_pyav(tmp_path / "h.avi", frames, "avi", "libx264", "yuv420p"))
    assert clip.meta["codec"] == "h264" and clip.fps == 25
    assert close(clip.frames, frames, 3)


def test_h264_mp4(tmp_path):
    frames = gray_clip()
    clip = read_clip(write_mp4(tmp_path / "m.mp4", frames, 30))
    assert clip.meta["format"] == "MP4" and clip.meta["codec"] == "h264" and clip.fps == 30
    assert close(clip.frames, frames, 3)


def test_reader_chosen_by_content_not_name(tmp_path):
    avi = write_avi(tmp_path / "clip.avi", gray_clip(), 25)
    renamed = avi.rename(tmp_path / "clip.mp4")
    assert read_clip(renamed).meta["format"] == "AVI"
    mp4 = write_mp4(tmp_path / "clip2.mp4", gray_clip(), 25)
    assert read_clip(mp4.rename(tmp_path / "export.dat")).meta["format"] == "MP4"


def test_colour_video_stays_rgb_and_grey_rgb_collapses(tmp_path):
    colour = read_clip(write_mp4(tmp_path / "doppler.mp4", colour_clip(), 25))
    assert colour.frames.shape == (T, H, W, 3) and colour.meta["colour"] == "rgb"
    assert colour.frames[0, 8, 8, 0] > 150 and colour.frames[0, 8, 8, 2] < 80
    grey_as_rgb = np.repeat(gray_clip()[..., None], 3, axis=-1)
    assert read_clip(write_avi(tmp_path / "g.avi", grey_as_rgb, 25)).frames.shape == (T, H, W)


def test_colour_that_starts_late_keeps_every_frames_rgb_and_a_grey_video_never_holds_its_rgb(tmp_path):
    """Frames collapse to grey as they decode; the first frame with colour starts the decoding again, so a clip grey
    until its last frame keeps every frame's RGB exactly as FFmpeg decodes it. A grey video's decoding holds about
    its grey frames twice (the list and the clip), never its RGB frames (three times the grey size) at once."""
    import tracemalloc
    import av
    frames = np.repeat(gray_clip()[..., None], 3, axis=-1)
    frames[-1, :8, :8] = (220, 30, 30)                                 # a red corner in the last frame only
    path = write_avi(tmp_path / "late.avi", frames, 25)
    with av.open(str(path)) as c:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    clip = read_clip(path)
    assert clip.meta["colour"] == "rgb" and np.array_equal(clip.frames, decoded)
    big = np.repeat(np.repeat(gray_clip(t=40), 8, axis=1), 8, axis=2)  # (40, 8H, 8W)
    grey = write_avi(tmp_path / "big.avi", big, 25)
    tracemalloc.start()
    try:
        clip = read_clip(grey)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert clip.frames.shape == big.shape and peak < 0.8 * big.size * 3          # the RGB frames: big.size * 3 bytes


def test_a_grey_clip_through_opencvs_mpeg4_codec_stays_grey(tmp_path):
    """OpenCV's default MP4 codec ('mp4v') decodes a grey clip with its channels 3 levels apart: it was called
    a colour clip whose colour the models never saw."""
    from echo.examples import load_example
    clip = load_example("adult_normal")
    assert read_clip(write_with_opencv(tmp_path / "grey.mp4", clip, "mp4v")).frames.ndim == 3


# --- DICOM -----------------------------------------------------------------------------------

def test_dicom_monochrome2_with_frame_time(tmp_path):
    frames = gray_clip()
    clip = read_clip(dicom_file(tmp_path / "a.dcm", frames.tobytes(), FrameTime=20.0))
    assert np.array_equal(clip.frames, frames)
    assert clip.fps == pytest.approx(50.0) and clip.meta["fps_source"] == "file"
    assert clip.meta["transfer_syntax"] == "Explicit VR Little Endian"
    odd = read_clip(dicom_file(tmp_path / "b.dcm", frames.tobytes(), FrameTime=33.33))     # not rounded to 33 ms
    assert odd.fps == pytest.approx(1000 / 33.33, abs=1e-6)
    for bad in (-20.0, 0.0):                                           # no frame time: the 30 fps default, said
        clip = read_clip(dicom_file(tmp_path / "c.dcm", frames.tobytes(), FrameTime=bad))
        assert clip.fps == 30.0 and clip.meta["fps_source"] == "default"


def test_dicom_monochrome1_is_inverted(tmp_path):
    frames = gray_clip()
    clip = read_clip(dicom_file(tmp_path / "a.dcm", frames.tobytes(), photometric="MONOCHROME1"))
    assert np.array_equal(clip.frames, 255 - frames)


def test_dicom_rgb_colour_and_grey(tmp_path):
    colour = colour_clip()
    clip = read_clip(dicom_file(tmp_path / "c.dcm", colour.tobytes(), samples=3,
                                photometric="RGB", CineRate=40))
    assert np.array_equal(clip.frames, colour) and clip.fps == 40
    grey = np.repeat(gray_clip()[..., None], 3, axis=-1)
    clip = read_clip(dicom_file(tmp_path / "g.dcm", grey.tobytes(), samples=3, photometric="RGB"))
    assert np.array_equal(clip.frames, gray_clip())


def test_dicom_ybr_full_422_native(tmp_path):
    colour = colour_clip()
    clip = read_clip(dicom_file(tmp_path / "y.dcm", ybr_422(colour), samples=3,
                                photometric="YBR_FULL_422", RecommendedDisplayFrameRate=30))
    assert clip.frames.shape == (T, H, W, 3) and clip.fps == 30
    assert close(clip.frames, colour, 4)


def test_dicom_palette_colour(tmp_path):
    index = gray_clip()
    levels = np.arange(256)
    lut = {"Red": levels, "Green": 255 - levels, "Blue": np.full(256, 128)}
    fields = {}
    for colour, values in lut.items():
        fields[f"{colour}PaletteColorLookupTableDescriptor"] = [256, 0, 16]
        fields[f"{colour}PaletteColorLookupTableData"] = (values * 257).astype("<u2").tobytes()
    clip = read_clip(dicom_file(tmp_path / "p.dcm", index.tobytes(),
                                photometric="PALETTE COLOR", **fields))
    expected = np.stack([index, 255 - index, np.full_like(index, 128)], axis=-1)
    assert np.array_equal(clip.frames, expected)


def test_dicom_jpeg_baseline_grey_and_ybr(tmp_path):
    grey = gray_clip()
    clip = read_clip(dicom_file(tmp_path / "jg.dcm", jpeg_frames(grey), syntax=JPEGBaseline8Bit))
    assert clip.frames.shape == (T, H, W) and close(clip.frames, grey, 3)
    assert clip.meta["transfer_syntax"] == "JPEG Baseline (Process 1)"
    colour = colour_clip()
    clip = read_clip(dicom_file(tmp_path / "jc.dcm", jpeg_frames(colour), samples=3,
                                photometric="YBR_FULL_422", syntax=JPEGBaseline8Bit))
    assert clip.frames.shape == (T, H, W, 3) and close(clip.frames, colour, 6)


def test_dicom_without_preamble(tmp_path):
    ds = Dataset()
    ds.Modality, ds.Rows, ds.Columns, ds.NumberOfFrames = "US", H, W, T
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = gray_clip().tobytes()
    ds.save_as(tmp_path / "raw.dcm", implicit_vr=True, little_endian=True)
    clip = read_clip(tmp_path / "raw.dcm")
    assert np.array_equal(clip.frames, gray_clip())
    assert clip.meta["transfer_syntax"] == ImplicitVRLittleEndian.name


def test_dicom_patient_data_never_reaches_the_clip(tmp_path, caplog, recwarn):
    caplog.set_level("DEBUG")
    clip = read_clip(dicom_file(tmp_path / "a.dcm", gray_clip().tobytes(), FrameTime=33.3,
                                Manufacturer="Acme Ultrasound"))
    shown = repr(clip.meta) + clip.source + caplog.text + " ".join(str(w.message) for w in recwarn)
    for value in PATIENT.values():
        assert value.split("^")[0] not in shown
    assert set(clip.meta) == {"format", "n_frames", "height", "width", "colour", "fps",
                              "fps_source", "modality", "transfer_syntax", "photometric",
                              "bits_allocated", "lossy"}           # lossy: derived from the transfer syntax
    assert all(isinstance(v, (str, int, float)) for v in clip.meta.values())


def test_a_dicom_compressed_with_loss_before_it_was_stored_is_lossy(tmp_path):
    plain = read_clip(dicom_file(tmp_path / "a.dcm", gray_clip().tobytes(), FrameTime=33.3))
    once = read_clip(dicom_file(tmp_path / "b.dcm", gray_clip().tobytes(), FrameTime=33.3, LossyImageCompression="01"))
    assert not plain.meta["lossy"] and once.meta["lossy"]                  # uncompressed now, lossy once


def test_dicom_without_frame_rate_gets_default(tmp_path):
    clip = read_clip(dicom_file(tmp_path / "a.dcm", gray_clip().tobytes()))
    assert clip.fps == 30 and clip.meta["fps_source"] == "default"


def test_dicom_16_bit_rescaled_when_asked(tmp_path):
    frames = (gray_clip().astype(np.uint16) * 200)
    clip = read_clip(dicom_file(tmp_path / "a.dcm", frames.tobytes(), bits=16), rescale=True)
    lo, hi = frames.min(), frames.max()
    assert np.array_equal(clip.frames, np.rint((frames - lo) * (255 / (hi - lo))).astype(np.uint8))


# --- arrays ----------------------------------------------------------------------------------

def test_npy_grey_and_single_channel(tmp_path):
    frames = gray_clip()
    np.save(tmp_path / "a.npy", frames)
    clip = read_clip(tmp_path / "a.npy")
    assert np.array_equal(clip.frames, frames) and clip.meta["fps_source"] == "default"
    np.save(tmp_path / "b.npy", frames[..., None])
    assert np.array_equal(read_clip(tmp_path / "b.npy").frames, frames)


def test_npz_frames_key_fps_and_only_array(tmp_path):
    colour = colour_clip()
    np.savez_compressed(tmp_path / "a.npz", frames=colour, notes=np.zeros(3), fps=np.float32(48))
    clip = read_clip(tmp_path / "a.npz")
    assert np.array_equal(clip.frames, colour) and clip.fps == 48
    np.savez(tmp_path / "b.npz", gray_clip())
    assert np.array_equal(read_clip(tmp_path / "b.npz").frames, gray_clip())


def test_float_array_rescaled_when_asked(tmp_path):
    np.save(tmp_path / "f.npy", gray_clip().astype(np.float32) / 255)
    clip = read_clip(tmp_path / "f.npy", rescale=True)
    assert clip.frames.min() == 0 and clip.frames.max() == 255


# --- folders of frames -----------------------------------------------------------------------

def test_png_folder_natural_order_and_fps_file(tmp_path):
    frames = gray_clip(t=12)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame{k}.png")
    (tmp_path / "fps.txt").write_text("25\n")
    (tmp_path / "notes.txt").write_text("ignored")
    clip = read_clip(tmp_path)
    assert np.array_equal(clip.frames, frames)  # frame10 after frame9, not after frame1
    assert clip.fps == 25 and clip.meta["format"] == "image folder" and not clip.meta["lossy"]


def test_jpeg_folder_colour(tmp_path):
    colour = colour_clip()
    for k, frame in enumerate(colour):
        Image.fromarray(frame).save(tmp_path / f"{k:03d}.JPG", quality=95)
    clip = read_clip(tmp_path)
    assert clip.frames.shape == (T, H, W, 3) and close(clip.frames, colour, 6)
    assert clip.fps == 30 and clip.meta["fps_source"] == "default" and clip.meta["lossy"]       # JPEG frames


def test_a_zip_of_frames_in_a_folder_reads_as_that_folder_would(tmp_path):
    """What zipping a folder of frames makes (and macOS's __MACOSX copies beside them): the frames in
    natural order, the fps.txt beside them, and nothing extracted to disk."""
    frames = gray_clip(t=12)
    members = {f"clip/frame{k}.png": f for k, f in enumerate(frames)}
    members.update({f"__MACOSX/clip/._frame{k}.png": b"resource fork" for k in range(12)})
    frames_zip(tmp_path / "clip.zip", {**members, "clip/fps.txt": "25\n", "clip/notes.txt": "ignored"})
    before = sorted(p.name for p in tmp_path.iterdir())
    clip = read_clip(tmp_path / "clip.zip")
    assert np.array_equal(clip.frames, frames)  # frame10 after frame9, not after frame1
    assert clip.fps == 25 and clip.meta["format"] == "image archive" and not clip.meta["lossy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("frame_name, fps_name", [
    ("clip\\{k}.png", "clip\\fps.txt"),           # Windows PowerShell 5.1's Compress-Archive writes backslashes
    ("./clip/{k}.png", "./clip/fps.txt"),
    ("export/clip/{k}.png", "export/FPS.TXT"),      # fps.txt in a folder above the frames, in capitals
])
def test_a_zip_of_frames_named_as_other_tools_name_them(tmp_path, frame_name, fps_name):
    frames = gray_clip(t=12)
    path = frames_zip(tmp_path / "clip.zip", {**{frame_name.format(k=k): f for k, f in enumerate(frames)},
                                               fps_name: "25"})
    clip = read_clip(path)
    assert np.array_equal(clip.frames, frames) and clip.fps == 25 and clip.meta["fps_source"] == "file"


def test_a_zip_of_jpeg_frames_at_its_top_level_renamed(tmp_path):
    colour = colour_clip()
    with zipfile.ZipFile(tmp_path / "clip.bin", "w", zipfile.ZIP_DEFLATED) as archive:   # content, not name
        for k, frame in enumerate(colour):
            archive.writestr(f"{k:03d}.JPG", image_bytes(frame, "JPEG", quality=95))
    clip = read_clip(tmp_path / "clip.bin")
    assert clip.frames.shape == (T, H, W, 3) and close(clip.frames, colour, 6)
    assert clip.meta["fps_source"] == "default" and clip.meta["lossy"]


def test_an_avi_whose_timestamps_skip_is_read_whole(tmp_path):
    """A variable-rate capture muxed to AVI: FFmpeg fills skipped timestamps with empty 'drop frame' chunks that the
    header counts (45) and that decode to no picture (40 do); it is whole, not cut short, and reads as its 40."""
    from fractions import Fraction
    import av
    path = tmp_path / "gap.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=30)
        stream.width = stream.height = 64
        stream.pix_fmt, stream.time_base = "yuvj420p", Fraction(1, 30)
        for i, pts in enumerate([*range(0, 20), *range(25, 45)]):             # 5 timestamps skipped
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 + 4 * i, np.uint8), format="rgb24")
            frame.pts = pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert read_clip(path).n_frames == 40
