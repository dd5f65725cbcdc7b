"""Every kind of bad input raises ClipError with a message that names the problem."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import HTJ2KLossless, JPEGBaseline8Bit

from echo import limits
from echo.clip import ClipError
from echo.readers import read_clip
from echo.writers import write_avi, write_mp4
from builders import PATIENT, dicom_file, frames_zip, gray_clip, image_bytes, jpeg_frames


def refused(path, *, rescale: bool = False) -> str:
    """The ClipError message read_clip gives for `path`."""
    with pytest.raises(ClipError) as info:
        read_clip(path, rescale=rescale)
    return str(info.value)


def cut(path, keep: float):
    """Truncate the file at `path` to a share `keep` of its length."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# --- missing, empty, wrong kind ---------------------------------------------------------------

def test_missing_file(tmp_path):
    assert "No file or folder found" in refused(tmp_path / "nope.avi")


def test_empty_file(tmp_path):
    (tmp_path / "e.avi").write_bytes(b"")
    assert "empty (0 bytes)" in refused(tmp_path / "e.avi")


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no frames here")
    assert "contains no PNG or JPEG frames" in refused(tmp_path)


def test_text_file_renamed_avi(tmp_path):
    (tmp_path / "clip.avi").write_text("Patient notes, not a video.\n")
    message = refused(tmp_path / "clip.avi")
    assert "named like an AVI video" in message and "text" in message


def test_png_renamed_avi(tmp_path):
    Image.fromarray(gray_clip()[0]).save(tmp_path / "still.png")
    message = refused((tmp_path / "still.png").rename(tmp_path / "clip.avi"))
    assert "named like an AVI video" in message and "PNG image" in message
    assert "single still frame" in message


def test_single_image_file(tmp_path):
    Image.fromarray(gray_clip()[0]).save(tmp_path / "still.jpg")
    assert "single still frame" in refused(tmp_path / "still.jpg")


@pytest.mark.parametrize("name, data, kind", [
    ("clip.gif", b"GIF89a" + bytes(40), "GIF image"),
    ("clip.bin", bytes(range(256)) * 4, "unrecognised"),
    ("clip.webm", b"\x1a\x45\xdf\xa3" + bytes(40), "WebM"),
    ("zeros.avi", bytes(600), "unrecognised"),
    ("note.mp4", b"Get free advice: this is text, not a movie.", "text"),
])
def test_unsupported_format(tmp_path, name, data, kind):
    (tmp_path / name).write_bytes(data)
    message = refused(tmp_path / name)
    assert kind in message and "not a format EchoLens reads" in message


# --- truncated and corrupt --------------------------------------------------------------------

def test_truncated_avi(tmp_path):
    assert "truncated" in refused(cut(write_avi(tmp_path / "a.avi", gray_clip(), 25), 0.6))


def test_avi_cut_short_with_its_length_field_rewritten(tmp_path):
    path = cut(write_avi(tmp_path / "a.avi", gray_clip(t=24), 25), 0.7)
    data = bytearray(path.read_bytes())
    data[4:8] = (len(data) - 8).to_bytes(4, "little")          # the RIFF length now says the file is whole
    path.write_bytes(bytes(data))
    message = refused(path)
    assert "of the 24 its AVI header declares" in message and "cut short" in message


def test_truncated_mp4(tmp_path):
    assert "truncated" in refused(cut(write_mp4(tmp_path / "a.mp4", gray_clip(), 25), 0.7))


def test_mp4_without_index(tmp_path):
    data = write_mp4(tmp_path / "a.mp4", gray_clip(), 25).read_bytes()
    moov = data.index(b"moov") - 4
    size = int.from_bytes(data[moov:moov + 4], "big")
    (tmp_path / "a.mp4").write_bytes(data[:moov] + data[moov + size:])
    assert "no index" in refused(tmp_path / "a.mp4")


def test_corrupt_avi(tmp_path):
    data = bytearray(write_avi(tmp_path / "a.avi", gray_clip(), 25).read_bytes())
    data[12:] = np.random.default_rng(0).integers(0, 256, len(data) - 12, np.uint8).tobytes()
    (tmp_path / "a.avi").write_bytes(bytes(data))
    assert "damaged" in refused(tmp_path / "a.avi")


def test_truncated_dicom_native(tmp_path):
    path = cut(dicom_file(tmp_path / "a.dcm", gray_clip().tobytes()), 0.8)
    message = refused(path)
    assert "truncated" in message
    assert not any(value.split("^")[0] in message for value in PATIENT.values())


def test_truncated_dicom_jpeg(tmp_path):
    path = cut(dicom_file(tmp_path / "a.dcm", jpeg_frames(gray_clip()), syntax=JPEGBaseline8Bit),
               0.8)
    assert "truncated" in refused(path)


def test_corrupt_dicom_jpeg(tmp_path):
    garbage = jpeg_frames(np.zeros((2, 8, 8), np.uint8)).replace(b"\xff\xd8", b"\x00\x00")
    path = dicom_file(tmp_path / "a.dcm", garbage, n_frames=2, rows=8, cols=8,
                      syntax=JPEGBaseline8Bit)
    message = refused(path)
    assert "damaged" in message
    assert not any(value.split("^")[0] in message for value in PATIENT.values())


def test_dicom_compression_without_decoder(tmp_path):
    path = dicom_file(tmp_path / "a.dcm", jpeg_frames(gray_clip()), syntax=HTJ2KLossless)
    assert "cannot decode" in refused(path)


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "a.npy", gray_clip())
    assert "truncated" in refused(cut(tmp_path / "a.npy", 0.5))


def test_truncated_npz(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", frames=gray_clip())
    assert "damaged or truncated" in refused(cut(tmp_path / "a.npz", 0.5))


def test_corrupt_frame_in_folder(tmp_path):
    for k, frame in enumerate(gray_clip()):
        Image.fromarray(frame).save(tmp_path / f"f{k}.png")
    (tmp_path / "f3.png").write_text("not an image")
    message = refused(tmp_path)
    assert "'f3.png'" in message and "damaged" in message


# --- too few frames ---------------------------------------------------------------------------

def test_zero_frames(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((0, 8, 8), np.uint8))
    assert "contains no image frames" in refused(tmp_path / "a.npy")
    dicom_file(tmp_path / "a.dcm", gray_clip(t=1).tobytes(), n_frames=0)      # it had read as one still image
    assert "contains no image frames (NumberOfFrames 0)" in refused(tmp_path / "a.dcm")


def test_one_frame_everywhere(tmp_path):
    one = gray_clip(t=1)
    paths = [write_avi(tmp_path / "a.avi", one, 25), write_mp4(tmp_path / "a.mp4", one, 25),
             dicom_file(tmp_path / "a.dcm", one.tobytes(), n_frames=1)]
    np.save(tmp_path / "a.npy", one)
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(one[0]).save(folder / "0.png")
    for path in paths + [tmp_path / "a.npy", folder]:
        assert "single still image" in refused(path), path


# --- over the limits --------------------------------------------------------------------------

def test_file_over_byte_limit(tmp_path, monkeypatch):
    path = write_avi(tmp_path / "a.avi", gray_clip(), 25)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    message = refused(path)
    assert "over the 1000 bytes EchoLens reads" in message


def test_over_frame_limit_every_format(tmp_path, monkeypatch):
    frames = gray_clip(t=8)
    np.save(tmp_path / "a.npy", frames)
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{k}.png")
    paths = [write_avi(tmp_path / "a.avi", frames, 25), write_mp4(tmp_path / "a.mp4", frames, 25),
             dicom_file(tmp_path / "a.dcm", frames.tobytes(), n_frames=8),
             tmp_path / "a.npy", folder]
    monkeypatch.setattr(limits, "MAX_FRAMES", 5)
    for path in paths:
        assert "more than 5 frames" in refused(path), path


def test_over_pixel_limit_every_format(tmp_path, monkeypatch):
    frames = gray_clip()
    np.savez(tmp_path / "a.npz", frames=frames)
    paths = [write_avi(tmp_path / "a.avi", frames, 25), write_mp4(tmp_path / "a.mp4", frames, 25),
             dicom_file(tmp_path / "a.dcm", frames.tobytes()), tmp_path / "a.npz"]
    monkeypatch.setattr(limits, "MAX_FRAME_PIXELS", 100)
    for path in paths:
        assert "pixels per frame" in refused(path), path


def test_over_decoded_memory_limit(tmp_path, monkeypatch):
    path = write_avi(tmp_path / "a.avi", gray_clip(), 25)
    monkeypatch.setattr(limits, "MAX_CLIP_BYTES", 4096)
    assert "of memory once decoded" in refused(path)


def test_deep_or_non_pixel_arrays_are_refused_from_their_header_before_loading(tmp_path, monkeypatch):
    """The size check counted one byte a value: a 205 KiB NPZ of float64 zeros grew memory 219 MiB under a 32 MiB
    limit, and complex values were refused only once loaded; the entries beside the frames loaded unchecked (a
    'phase' of text gave numpy's 'could not convert string to float', naming no file)."""
    frames = gray_clip()                                           # (T, H, W) 8-bit
    np.savez_compressed(tmp_path / "deep.npz", frames=frames.astype(np.float64))
    monkeypatch.setattr(limits, "MAX_CLIP_BYTES", frames.size * 8)   # 8-bit frames fit 8 times over
    assert "float64 values: reading them would take" in refused(tmp_path / "deep.npz", rescale=True)
    loaded = []
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__",
                        lambda self, key, _get=np.lib.npyio.NpzFile.__getitem__: loaded.append(key) or _get(self, key))
    np.savez_compressed(tmp_path / "complex.npz", frames=frames.astype(np.complex64))
    assert refused(tmp_path / "complex.npz", rescale=True) == "'complex.npz' stores complex64 values, not image pixels."
    assert "floating-point pixels" in refused(tmp_path / "deep.npz")     # deeper, no rescale: said from the header
    assert loaded == []                                              # neither array was loaded
    for entry, says in (({"phase": np.array(["a"] * len(frames))}, "'phase' entry that does not give one number per frame"),
                        ({"labels": np.zeros(frames.shape, np.float64)}, "'labels' entry that does not match its frames"),
                        ({"ef": np.zeros(10**6)}, "'ef' entry that is not one number"),
                        ({"phantom_population": np.array(["adult"] * 10**5)}, "'phantom_population' entry that is not one value")):
        np.savez_compressed(tmp_path / "truth.npz", frames=frames, **entry)
        assert says in refused(tmp_path / "truth.npz")
        assert set(loaded) <= {"frames"} and "frames" not in loaded      # refused before the frames were loaded
    monkeypatch.setattr(limits, "MAX_CLIP_BYTES", 2 << 30)
    np.savez_compressed(tmp_path / "ok.npz", frames=frames.astype(np.float64), phase=np.linspace(0, 1, len(frames)))
    clip = read_clip(tmp_path / "ok.npz", rescale=True)             # the same values fit the real limit: read
    assert clip.frames.dtype == np.uint8 and clip.frames.max() == 255


# --- pixel depth --------------------------------------------------------------------------------

def test_dicom_16_bit_refused(tmp_path):
    frames = gray_clip().astype(np.uint16) * 200
    assert "16-bit pixels" in refused(dicom_file(tmp_path / "a.dcm", frames.tobytes(), bits=16))


@pytest.mark.parametrize("dtype, depth", [(np.uint16, "16-bit"), (np.float32, "floating-point"),
                                          (np.int8, "signed 8-bit")])
def test_deep_arrays_refused(tmp_path, dtype, depth):
    np.save(tmp_path / "a.npy", gray_clip().astype(dtype) // 2)
    message = refused(tmp_path / "a.npy")
    assert f"{depth} pixels" in message and "rescale=True" in message and "on the command line: --rescale" in message


def test_a_constant_clip_stretched_says_the_value_it_holds(tmp_path):
    """Stretched, one value everywhere became 0 everywhere, and the message said the file held 0."""
    np.save(tmp_path / "a.npy", np.full((6, 32, 32), 3.0, np.float32))
    assert refused(tmp_path / "a.npy", rescale=True).startswith("'a.npy' holds no image: every pixel of every frame "
                                                                 "is 3, so there is no range to stretch.")


def test_nan_pixels_are_named_first_and_said_how_to_mend(tmp_path):
    """A float clip with a NaN was first told to stretch its pixels (--rescale), then, stretched, refused for the NaN
    with no way on: the first message says a NaN cannot be stretched, the second where it is and what to do."""
    frames = gray_clip().astype(np.float32)
    frames[2, 0, 0] = frames[3, 1, 1] = np.nan
    np.save(tmp_path / "a.npy", frames)
    said = refused(tmp_path / "a.npy", rescale=True)
    assert said.startswith("'a.npy' contains 2 missing (NaN) or infinite pixel values, the first in frame 2")
    assert "replace them (with 0, or the clip's lowest value) and save the clip again" in said
    # refused from its header before loading (a float clip may be large), the depth message says NaN cannot pass
    assert "a float clip's pixels must also all be numbers: no NaN or infinite value" in refused(tmp_path / "a.npy")


def test_16_bit_png_folder_refused(tmp_path):
    for k, frame in enumerate(gray_clip()):
        Image.fromarray(frame.astype(np.uint16) * 256).save(tmp_path / f"{k}.png")
    assert "16-bit pixels" in refused(tmp_path)


# --- malformed content of a readable format -------------------------------------------------------

def test_dicom_without_pixel_data(tmp_path):
    assert "without image data" in refused(dicom_file(tmp_path / "sr.dcm", None))


def test_object_array_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.array([{"frames": 1}] * 3, dtype=object), allow_pickle=True)
    assert "Python objects" in refused(tmp_path / "a.npy")


def test_array_of_wrong_shape(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 3, 16, 16), np.uint8))
    assert "shape (4, 3, 16, 16)" in refused(tmp_path / "a.npy")


def test_npz_with_several_arrays(tmp_path):
    np.savez(tmp_path / "a.npz", a=gray_clip(), b=gray_clip())
    assert "name the clip's frames 'frames'" in refused(tmp_path / "a.npz")


def test_npz_bad_fps(tmp_path):
    np.savez(tmp_path / "a.npz", frames=gray_clip(), fps=-5)
    assert "'fps' entry" in refused(tmp_path / "a.npz")


@pytest.mark.parametrize("entries, said", [
    ({"fps": 1e-9}, "an 'fps' entry of 1e-09, not a frame rate"),          # was shown as '0.0 fps'
    ({"ef": 200.0}, "an 'ef' entry of 200, which no heart has"),            # was taken as the ground truth
    ({"ef": -50.0}, "an 'ef' entry of -50"), ({"esv": -1.0}, "an 'esv' entry of -1"),
    ({"ef": 0.62}, "an 'ef' entry of 0.62, which looks like a fraction: store EF in percent (0.62 -> 62)"),  # was 0.6%
    ({"ef": "abc"}, "an 'ef' entry that is not one number"),                # was called damaged or truncated
    ({"ed_frames": [0, 6]}, "lists ed frames outside its 6 frames"),         # one past the last frame
    ({"es_frames": [-1]}, "lists es frames outside its 6 frames"),
    ({"ed_frames": [1.7, np.nan]}, "lists ed frames that are not whole frame numbers (1.7, nan)"),   # was: 'outside'
    ({"es_frames": [2.5]}, "lists es frames that are not whole frame numbers (2.5)"),       # was: read as frame 2
    ({"phase": np.linspace(0, 2 * np.pi, 6, endpoint=False)}, "a 'phase' entry from 0 to 5.23599"),   # radians: was
    ({"phase": [0.0, 20.0, 40.0, 60.0, 80.0, 0.0]}, "(radians: divide by 2 pi; percent: by 100)"),  # wrapped, 1 ED a frame
    ({"phase": [0.0, 0.2, 0.4, np.nan, 0.8, 0.0]}, "missing (NaN) or infinite value at frame 3"),  # was: no marks at all
])
def test_npz_entries_no_clip_has(tmp_path, entries, said):
    np.savez(tmp_path / "a.npz", frames=gray_clip(), **entries)
    assert said in refused(tmp_path / "a.npz")


def test_npz_without_arrays_or_holding_another_file(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    assert "empty ZIP archive (it holds no files)" in refused(tmp_path / "empty.npz")
    with zipfile.ZipFile(tmp_path / "text.npz", "w") as archive:          # was: "There is no item named ..."
        archive.writestr("hello.txt", "hi")
    assert refused(tmp_path / "text.npz").startswith("'text.npz' holds 'hello.txt', which is not a NumPy array")


def test_a_field_the_libraries_trip_on_is_said_naming_the_file(tmp_path):
    """A header that does not parse (numpy's TokenError) or a DICOM tag missing (pydicom's AttributeError)
    reached the app as 'Something went wrong' and stopped a whole audit; any failure a reader did not foresee
    is now a ClipError naming the file, and never the server's path to it."""
    import pydicom
    np.save(tmp_path / "header.npy", gray_clip())
    data = (tmp_path / "header.npy").read_bytes()
    (tmp_path / "header.npy").write_bytes(data.replace(b"'shape': (", b"'shape': ((", 1))
    message = refused(tmp_path / "header.npy")
    assert message.startswith("'header.npy' looks like a NumPy array but could not be read: it is damaged")
    path = dicom_file(tmp_path / "a.dcm", gray_clip().tobytes())
    ds = pydicom.dcmread(path)
    del ds.SamplesPerPixel
    ds.save_as(path)
    message = refused(path)
    assert message.startswith("'a.dcm' looks like a DICOM file but could not be read") and "SamplesPerPixel" in message
    assert str(tmp_path) not in message and not any(v.split("^")[0] in message for v in PATIENT.values())


def test_folder_bad_fps_file(tmp_path):
    for k, frame in enumerate(gray_clip()):
        Image.fromarray(frame).save(tmp_path / f"{k}.png")
    (tmp_path / "fps.txt").write_text("fast")
    assert "fps.txt" in refused(tmp_path)


def test_folder_frames_of_different_sizes(tmp_path):
    for k, frame in enumerate(gray_clip()):
        Image.fromarray(frame).save(tmp_path / f"{k}.png")
    Image.fromarray(gray_clip(h=10)[0]).save(tmp_path / "2.png")
    assert "all frames must have one size" in refused(tmp_path)


# --- ZIP archives of frames ---------------------------------------------------------------------

def zip_refused(path, members: dict) -> str:
    """read_clip's refusal of a ZIP at `path` holding `members` (builders.frames_zip)."""
    return refused(frames_zip(path, members))


def test_a_zip_whose_list_needs_a_version_zipfile_does_not_read_or_whose_fps_is_no_cine_rate_is_refused(tmp_path):
    """A byte changed in the list of files gave the bare 'zip file version 22.4' (a NotImplementedError, not caught
    by the sniffing); fps.txt of 0.02 was read (the clip's beat not found, its EFs moved), of 5000 blamed the clip's
    length; an NPZ's fps of either was refused as no frame rate."""
    pngs = {f"a/{k}.png": f for k, f in enumerate(gray_clip())}
    path = frames_zip(tmp_path / "version.zip", pngs)
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")                   # the first entry of the list of files
    data[entry + 6:entry + 8] = (224).to_bytes(2, "little")   # version needed to extract: 22.4
    path.write_bytes(bytes(data))
    assert "'version.zip' is a damaged ZIP archive: its list of files could not be read" in refused(path)
    for fps in ("0.02", "5000"):
        message = zip_refused(tmp_path / "rate.zip", {**pngs, "a/fps.txt": fps})
        assert f"'fps.txt' in archive 'rate.zip' gives {fps} frames per second, not a frame rate of a cine loop " \
               "(1-1000 fps)" in message
    assert read_clip(frames_zip(tmp_path / "ok.zip", {**pngs, "a/fps.txt": "50"})).fps == 50


def test_a_zip_of_frames_refused_for_what_is_wrong_with_it(tmp_path):
    frames = gray_clip()
    pngs = {f"a/{k}.png": f for k, f in enumerate(frames)}
    message = zip_refused(tmp_path / "two.zip", {**pngs, **{f"b/{k}.png": f for k, f in enumerate(frames)}})
    assert "holds frames in 2 folders ('a', 'b')" in message and "archive of their own" in message
    message = zip_refused(tmp_path / "bad.zip", {**pngs, "a/3.png": b"not an image"})
    assert "Frame '3.png' in archive 'bad.zip'" in message and "damaged" in message
    assert "'fps.txt' in archive 'fps.zip'" in zip_refused(tmp_path / "fps.zip", {**pngs, "a/fps.txt": "fast"})
    assert "all frames must have one size" in zip_refused(tmp_path / "sizes.zip",
                                                         {**pngs, "a/2.png": gray_clip(h=10)[0]})
    assert "single still image" in zip_refused(tmp_path / "one.zip", {"0.png": frames[0]})
    message = zip_refused(tmp_path / "notes.zip", {"a.txt": "text", "b.csv": "1,2"})
    assert "'notes.zip' is named like a ZIP archive of frames but its content is a ZIP archive holding no PNG/JPEG frames" in message
    assert "EchoLens reads" in message and "PNG/JPEG frames in a ZIP archive" in message
    message = zip_refused(tmp_path / "mixed.zip", {**pngs, r"b\0.png": frames[0], r"b\1.png": frames[1]})
    assert "holds frames in 2 folders ('a', 'b')" in message               # Windows' separators are folders too
    assert "(the top level, 'a')" in zip_refused(tmp_path / "top.zip", {**pngs, "0.png": frames[0]})
    assert "both PNG/JPEG frames and .npy arrays" in zip_refused(tmp_path / "npy.zip", {**pngs, "a.npy": b"x"})
    assert "is an OpenDocument or EPUB file" in zip_refused(tmp_path / "talk.odp", {"mimetype": "x", **pngs})
    slides = zip_refused(tmp_path / "talk.pptx", {"[Content_Types].xml": "<Types/>", "ppt/media/image1.png": frames[0],
                                                 "ppt/media/image2.png": frames[1]})
    assert "'talk.pptx' is an Office document: not a format EchoLens reads" in slides


def test_a_damaged_zip_of_frames(tmp_path):
    frames = gray_clip()
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):                # stored, and as archivers write them
        with zipfile.ZipFile(tmp_path / "cut.zip", "w", method) as archive:
            for k, frame in enumerate(frames):
                archive.writestr(f"{k}.png", image_bytes(frame))
        data = (tmp_path / "cut.zip").read_bytes()
        start = data.index(b"0.png") + len(b"0.png")                         # the first member's data
        (tmp_path / "bit.zip").write_bytes(data[:start + 60] + bytes([data[start + 60] ^ 0xFF]) + data[start + 61:])
        assert "Frame '0.png' in archive 'bit.zip' could not be read" in refused(tmp_path / "bit.zip"), method
    (tmp_path / "cut.bin").write_bytes(cut(tmp_path / "cut.zip", 0.5).read_bytes())   # its list of files lost
    assert "'cut.zip' is a damaged ZIP archive: its list of files could not be read" in refused(tmp_path / "cut.zip")
    assert "'cut.bin' is a damaged ZIP archive" in refused(tmp_path / "cut.bin")


def test_a_password_protected_or_oddly_compressed_zip_is_refused_by_name(tmp_path):
    path = frames_zip(tmp_path / "locked.zip", {f"{k}.png": f for k, f in enumerate(gray_clip())})
    data = bytearray(path.read_bytes())
    for header, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):          # the encryption bit, both headers
        at = data.find(header)
        while at >= 0:
            data[at + flags] |= 0x1
            at = data.find(header, at + 4)
    path.write_bytes(bytes(data))
    assert "'locked.zip' is password-protected (frame '0.png')" in refused(path)
    path = frames_zip(tmp_path / "odd.zip", {f"{k}.png": f for k, f in enumerate(gray_clip())})
    data = bytearray(path.read_bytes())
    for header, method in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):         # method 9: Deflate64
        at = data.find(header)
        while at >= 0:
            data[at + method] = 9
            at = data.find(header, at + 4)
    path.write_bytes(bytes(data))
    assert "compressed with a method EchoLens cannot unpack (ZIP method 9)" in refused(path)


def test_a_zip_listing_more_files_than_a_clip_is_refused_before_its_list_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FRAMES", 3)                             # at most 2 * 3 + 16 = 22 files
    path = frames_zip(tmp_path / "many.zip", {f"{k}.txt": "" for k in range(23)})
    parsed = []
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda *a, **k: parsed.append(a) or 1 / 0)
    assert "'many.zip' lists 23 files; an archive of one clip holds at most 22" in refused(path) and not parsed


def test_a_zip_of_frames_over_the_byte_limit_is_refused_before_inflating(tmp_path, monkeypatch):
    """The limit is on the frames' declared, uncompressed size, so a small archive that would inflate past it
    is refused from its list of files, before any member is read."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for k in range(4):
            archive.writestr(f"{k}.png", bytes(200_000))               # compresses to a few hundred bytes
    assert path.stat().st_size < 5_000
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100_000)
    inflated = []
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: inflated.append(a) or b"")
    assert "'bomb.zip' holds 781.2 KiB of frames once unpacked, over the 97.7 KiB" in refused(path) and not inflated
