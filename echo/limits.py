"""Size and content limits on what EchoLens reads, and the checks that enforce them.

A clip is refused, with a message saying which limit it broke, when:
- its file (or folder of frames, or an archive's frames once unpacked) is over MAX_FILE_BYTES (1 GiB);
- it has fewer than MIN_FRAMES (2) frames: a still image is not a cine loop;
- it has more than MAX_FRAMES (2000) frames: over a minute at 30 fps, far beyond the few heart
  beats a model looks at;
- a frame has more than MAX_FRAME_PIXELS (2048 x 2048) pixels;
- a frame is narrower or lower than MIN_FRAME_SIDE (32) pixels when a model is to see it (the models see
  112 x 112; a thinner clip would be mostly invented by the resize). Readers accept such frames, a
  model's view of them (explain.analysis.window.model_view) refuses them;
- the decoded clip, as 8-bit RGB, would take more than MAX_CLIP_BYTES (2 GiB) of memory, so a
  small, highly compressed file cannot expand into more memory than the machine has; nor may an array's stored
  values (float64 pixels take eight bytes each) with the working copies reading them makes;
- when a model is to see it: it lasts less than MIN_CLIP_SECONDS (0.3 s, one beat at 200 beats per
  minute; a clip whose ground truth gives its beat: less than half that beat), so it cannot hold a heartbeat
  and an EF read from it would be invented; or it holds no image
  (every pixel of every frame within BLANK_LEVELS grey levels of one value), so a model's EF of it says
  nothing about a heart.

Readers call these checks on the sizes a file's header declares, before decoding pixels, wherever
the format declares them, and again on what decoding produced. The checks read the module's
constants at call time, so a test (or a deployment) can change them.
"""
from __future__ import annotations

from echo.clip import ClipError

MAX_FILE_BYTES = 1 << 30
MIN_FRAMES = 2
MAX_FRAMES = 2000
MAX_FRAME_PIXELS = 2048 * 2048
MIN_FRAME_SIDE = 32
MAX_CLIP_BYTES = 2 << 30
MIN_CLIP_SECONDS = 0.3          # the shortest heartbeat EchoLens looks for (200 beats per minute)
BLANK_LEVELS = 1
FPS_RANGE = (1.0, 1000.0)       # frame rates a file may give (echo scanners record about 15-500 fps)


def size_in_words(n_bytes: int) -> str:
    """A byte count as people read it: '1.5 GiB', '12.0 MiB', '900 bytes'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def check_file_bytes(n_bytes: int, name: str, unpacked: bool = False) -> None:
    """Refuse a file, or folder of frames, bigger than MAX_FILE_BYTES; `unpacked`: n_bytes is what an
    archive's frames take once unpacked."""
    if n_bytes > MAX_FILE_BYTES:
        size = f"holds {size_in_words(n_bytes)} of frames once unpacked" if unpacked else f"is {size_in_words(n_bytes)}"
        raise ClipError(
            f"'{name}' {size}, over the {size_in_words(MAX_FILE_BYTES)} EchoLens reads. "
            "Export a shorter clip (a few heart beats) or a lower resolution."
        )


def check_max_frames(n_frames: int, name: str) -> None:
    """Refuse a clip with more than MAX_FRAMES frames (callable while frames are still decoding)."""
    if n_frames > MAX_FRAMES:
        raise ClipError(
            f"'{name}' has more than {MAX_FRAMES} frames, the most EchoLens reads. "
            "Trim the clip to a few heart beats and try again."
        )


def check_frame_count(n_frames: int, name: str) -> None:
    """Refuse a clip with fewer than MIN_FRAMES or more than MAX_FRAMES frames."""
    if n_frames == 0:
        raise ClipError(f"'{name}' contains no image frames. Choose a file that holds a cine loop.")
    if n_frames < MIN_FRAMES:
        raise ClipError(
            f"'{name}' holds a single still image, not a cine loop (at least {MIN_FRAMES} frames "
            "are needed). Export the moving clip instead of a still frame."
        )
    check_max_frames(n_frames, name)


def check_frame_size(height: int, width: int, name: str) -> None:
    """Refuse frames with more than MAX_FRAME_PIXELS pixels."""
    if height * width > MAX_FRAME_PIXELS:
        raise ClipError(
            f"'{name}' has frames of {width} x {height} pixels, over the {MAX_FRAME_PIXELS:,} "
            "pixels per frame EchoLens reads. Export the clip at a lower resolution."
        )


def check_model_frame_size(height: int, width: int, name: str) -> None:
    """Refuse frames with a side under MIN_FRAME_SIDE pixels for a model's view."""
    if min(height, width) < MIN_FRAME_SIDE:
        raise ClipError(
            f"'{name}' has frames of {width} x {height} pixels; a model needs at least {MIN_FRAME_SIDE} pixels "
            f"on each side (it sees 112 x 112). Check that the file holds whole frames, in (frames, height, "
            "width) order."
        )


def check_clip_bytes(n_frames: int, height: int, width: int, channels: int, name: str) -> None:
    """Refuse a clip whose decoded 8-bit frames would exceed MAX_CLIP_BYTES of memory."""
    n_bytes = n_frames * height * width * channels
    if n_bytes > MAX_CLIP_BYTES:
        raise ClipError(
            f"'{name}' would take {size_in_words(n_bytes)} of memory once decoded, over the "
            f"{size_in_words(MAX_CLIP_BYTES)} EchoLens allows. Export a shorter clip or a lower resolution."
        )


def check_stored_bytes(n_values: int, bytes_per_value: int, what: str, name: str) -> None:
    """Refuse an array whose stored values, with the working copies reading makes of them (bytes_per_value in
    all), would exceed MAX_CLIP_BYTES of memory: a small compressed file can declare float64 pixels, eight times
    the bytes check_clip_bytes counts for 8-bit ones. what: the values, in words ('float64 values')."""
    n_bytes = n_values * bytes_per_value
    if n_bytes > MAX_CLIP_BYTES:
        raise ClipError(
            f"'{name}' stores {what}: reading them would take {size_in_words(n_bytes)} of memory, over the "
            f"{size_in_words(MAX_CLIP_BYTES)} EchoLens allows. Export 8-bit pixels, a shorter clip or a lower "
            f"resolution."
        )


def check_holds_a_beat(n_frames: int, fps: float, name: str, fps_assumed: bool = False,
                       beat_seconds: float | None = None) -> None:
    """Refuse a clip shorter than MIN_CLIP_SECONDS for a model's view: no heartbeat fits in it; with
    beat_seconds (its ground truth's beat), one that holds less than half that beat."""
    seconds = n_frames / fps
    assumed = (" (at the assumed rate: the file gives none; a slower true rate would make it longer)"
               if fps_assumed else "")
    if beat_seconds is not None and seconds < beat_seconds / 2:
        raise ClipError(
            f"'{name}' lasts {seconds:.2f} s ({n_frames} frames at {fps:g} fps{assumed}), less than half of its "
            f"own heartbeat ({beat_seconds:.2f} s, from its ground truth): an EF needs the whole beat. Export a "
            "longer clip."
        )
    if beat_seconds is None and seconds < MIN_CLIP_SECONDS:
        raise ClipError(
            f"'{name}' lasts {seconds:.2f} s ({n_frames} frames at {fps:g} fps{assumed}), shorter than one "
            f"heartbeat at 200 beats per minute ({MIN_CLIP_SECONDS:g} s): an EF needs at least one whole beat. "
            "Export a longer clip."
        )


def check_holds_an_image(lowest: int, highest: int, name: str) -> None:
    """Refuse a clip whose pixels, over every frame, lie within BLANK_LEVELS grey levels of one value."""
    if highest - lowest <= BLANK_LEVELS:
        raise ClipError(
            f"'{name}' holds no image: every pixel of every frame is {lowest}"
            f"{'' if highest == lowest else f'-{highest}'} (of 0-255). Check that the export kept the frames' "
            "content (a blank or all-black recording has no heart to read)."
        )
