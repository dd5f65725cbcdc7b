"""Small synthetic clips, DICOM files and tracings the tests build for themselves (no network)."""
from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
                         UltrasoundMultiFrameImageStorage, generate_uid)

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


def lv_tracing(half_width: float, top=20.0, bottom=90.0, centre=56.0, chords=20) -> np.ndarray:
    """(chords + 1, 4) EchoNet-style segments of an elliptical LV: long axis, then chords."""
    y = np.linspace(top, bottom, chords + 2)[1:-1]
    half = half_width * np.sqrt(1 - ((y - (top + bottom) / 2) / ((bottom - top) / 2)) ** 2)
    rows = np.stack([centre - half, y, centre + half, y], axis=1)
    return np.vstack([[centre, top, centre, bottom], rows])
