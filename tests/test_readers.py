"""read_clip on every supported format, made here from small synthetic clips (no network)."""
from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
                         UltrasoundMultiFrameImageStorage, generate_uid)

from echo.readers import read_clip
from echo.writers import write_avi, write_mp4

T, H, W = 6, 24, 32
PATIENT = {"PatientName": "Doe^Jane", "PatientID": "PID-97531", "PatientBirthDate": "19610203",
           "InstitutionName": "St Elsewhere Hospital", "ReferringPhysicianName": "House^Greg",
           "OperatorsName": "Sono^Sam", "PatientAddress": "1 Main Street"}


def gray_clip(t=T, h=H, w=W) -> np.ndarray:
    """(t, h, w) uint8: a smooth moving gradient, friendly to lossy codecs."""
    y, x = np.mgrid[:h, :w]
    return np.stack([(40 + 3 * x + 2 * y + 8 * k) % 200 + 20 for k in range(t)]).astype(np.uint8)


def colour_clip(t=T, h=H, w=W) -> np.ndarray:
    """(t, h, w, 3) uint8: grey background with a red and a blue block (Doppler-like)."""
    frames = np.repeat(gray_clip(t, h, w)[..., None], 3, axis=-1)
    frames[:, 4:12, 4:12] = (200, 30, 30)
    frames[:, 12:20, 18:28] = (30, 40, 210)
    return frames


def dicom_file(path, pixel_data, *, n_frames=T, rows=H, cols=W, samples=1,
               photometric="MONOCHROME2", bits=8, syntax=ExplicitVRLittleEndian, **fields):
    """Write a multi-frame ultrasound DICOM carrying fake patient data; return its path."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    for keyword, value in {**PATIENT, **fields}.items():
        setattr(ds, keyword, value)
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, n_frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = samples, photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if pixel_data is not None:
        ds.PixelData = pixel_data
        if syntax.is_compressed:
            ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_frames(frames: np.ndarray) -> bytes:
    """Encapsulated JPEG baseline frames; colour as YCbCr 4:2:2 (DICOM's YBR_FULL_422)."""
    encoded = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=95, subsampling=1)
        encoded.append(buffer.getvalue())
    return encapsulate(encoded)


def ybr_422(frames: np.ndarray) -> bytes:
    """(T, H, W, 3) RGB -> native YBR_FULL_422 bytes: Y0 Y1 Cb Cr per pair of pixels."""
    ybr = convert_color_space(frames, "RGB", "YBR_FULL").astype(np.int32)
    packed = np.empty(frames.shape[:2] + (frames.shape[2] // 2, 4), np.uint8)
    packed[..., 0], packed[..., 1] = ybr[:, :, 0::2, 0], ybr[:, :, 1::2, 0]
    packed[..., 2] = (ybr[:, :, 0::2, 1] + ybr[:, :, 1::2, 1]) // 2
    packed[..., 3] = (ybr[:, :, 0::2, 2] + ybr[:, :, 1::2, 2]) // 2
    return packed.tobytes()


def write_with_pyav(path, frames: np.ndarray, fmt: str, codec: str, pix_fmt: str, fps=25):
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
        container.mux(stream.encode())
    return path


def close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    return a.shape == b.shape and np.abs(a.astype(int) - b).mean() < tol


# --- video -----------------------------------------------------------------------------------

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


# --- DICOM -----------------------------------------------------------------------------------

def test_dicom_monochrome2_with_frame_time(tmp_path):
    frames = gray_clip()
    clip = read_clip(dicom_file(tmp_path / "a.dcm", frames.tobytes(), FrameTime=20.0))
    assert np.array_equal(clip.frames, frames)
    assert clip.fps == pytest.approx(50.0) and clip.meta["fps_source"] == "file"
    assert clip.meta["transfer_syntax"] == "Explicit VR Little Endian"


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
                              "bits_allocated"}
    assert all(isinstance(v, (str, int, float)) for v in clip.meta.values())


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
    assert clip.fps == 25 and clip.meta["format"] == "image folder"


def test_jpeg_folder_colour(tmp_path):
    colour = colour_clip()
    for k, frame in enumerate(colour):
        Image.fromarray(frame).save(tmp_path / f"{k:03d}.JPG", quality=95)
    clip = read_clip(tmp_path)
    assert clip.frames.shape == (T, H, W, 3) and close(clip.frames, colour, 6)
    assert clip.fps == 30 and clip.meta["fps_source"] == "default"
