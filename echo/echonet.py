"""The EchoNet-Dynamic folder layout, read and written, so the phantom's data and real EchoNet
data load through the same code.

    root/FileList.csv        FileName, EF, ESV, EDV, FrameHeight, FrameWidth, FPS,
                             NumberOfFrames, Split (FileName without '.avi', as in EchoNet)
    root/VolumeTracings.csv  FileName (with '.avi'), X1, Y1, X2, Y2, Frame: for each traced
                             frame, row 0 is the LV long axis and the other rows are chords
                             across the cavity, perpendicular to it
    root/Videos/<name>.avi

Of a video's traced frames, the one with the largest traced area is end-diastole and the one with
the smallest is end-systole (a video with a single traced frame gets neither). The traced LV
outline is the chords' X1,Y1 ends in order then their X2,Y2 ends in reverse; like EchoNet's own
code, it leaves out row 0, the long axis, whose ends are not on the outline's path.
"""
from __future__ import annotations

import csv
import dataclasses
import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np

from echo.clip import Clip, ClipError, GroundTruth
from echo.readers import read_clip
from echo.writers import write_avi

FILELIST, TRACINGS, VIDEOS = "FileList.csv", "VolumeTracings.csv", "Videos"
FILELIST_COLUMNS = ("FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS",
                    "NumberOfFrames", "Split")
TRACING_COLUMNS = ("FileName", "X1", "Y1", "X2", "Y2", "Frame")
# the video's suffix in every case (avi, AVI, Avi...): eight lookups, where listing Videos/ would cost a read of
# its thousands of names per clip
AVI_SPELLINGS = tuple("".join(spelling) for spelling in itertools.product("aA", "vV", "iI"))


def _stem(file_name: str) -> str:
    """EchoNet names a video with '.avi' in one file and without it in the other."""
    name = file_name.strip()
    return name[:-4] if name.lower().endswith(".avi") else name


def tracing_polygon(segments: np.ndarray) -> np.ndarray:
    """(K, 4) X1, Y1, X2, Y2 rows -> (2(K-1), 2) x, y outline of the LV cavity."""
    segments = np.asarray(segments, np.float64)
    if segments.ndim != 2 or segments.shape[1] != 4 or len(segments) < 3:
        raise ClipError("An LV tracing needs rows of X1, Y1, X2, Y2: the long axis and at least "
                        f"two chords; got an array of shape {segments.shape}.")
    chords = segments[1:]
    return np.concatenate([chords[:, 0:2], chords[::-1, 2:4]])


def tracing_area(segments: np.ndarray) -> float:
    """Area (pixels^2) enclosed by the tracing's outline, by the shoelace formula."""
    x, y = tracing_polygon(segments).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def tracing_mask(segments: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) bool LV cavity mask: the outline filled (cv2.fillPoly, vertices rounded)."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.rint(tracing_polygon(segments)).astype(np.int32)], 1)
    return mask.astype(bool)


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ClipError(f"'{path.name}' lacks the column(s) {', '.join(missing)} of the "
                                "EchoNet-Dynamic layout.")
            return list(reader)
    except FileNotFoundError:
        raise ClipError(f"'{path.parent}' is not an EchoNet-Dynamic folder: it has no "
                        f"'{path.name}'.") from None
    except (OSError, UnicodeDecodeError, csv.Error):
        raise ClipError(f"'{path}' could not be read as a CSV table.") from None


def _float(row: Mapping[str, str], column: str) -> float | None:
    try:
        value = float(row.get(column) or "nan")
    except ValueError:
        raise ClipError(f"{FILELIST} has '{row.get(column)}' in column {column} for "
                        f"'{row['FileName']}'; a number or nothing was expected.") from None
    return value if np.isfinite(value) else None


def _ef(row: Mapping[str, str]) -> float | None:
    """The row's EF, refused outside 0-100% (999 was taken as truth, an audit's MAE 951), as the NPZ reader does."""
    ef = _float(row, "EF")
    if ef is not None and not 0 <= ef <= 100:
        raise ClipError(f"{FILELIST} gives EF {ef:g} for '{row['FileName']}'; an EF lies in 0-100%.")
    return ef


def _read_tracings(path: Path) -> dict[str, dict[int, np.ndarray]]:
    """{video name: {frame: (K, 4) segments}}, rows kept in file order."""
    rows: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for row in _read_csv(path, TRACING_COLUMNS):
        try:
            frame = int(float(row["Frame"]))
            segment = [float(row[c]) for c in ("X1", "Y1", "X2", "Y2")]
        except (ValueError, TypeError):                  # TypeError: a short row's missing fields read None
            raise ClipError(f"{TRACINGS} has a row for '{row['FileName']}' whose coordinates or "
                            "frame are not numbers.") from None
        rows[_stem(row["FileName"])][frame].append(segment)
    return {name: {f: np.array(seg) for f, seg in frames.items()} for name, frames in rows.items()}


def ed_es_frames(tracings: Mapping[int, np.ndarray]) -> tuple[list[int], list[int]]:
    """([ED frame], [ES frame]) from traced frames: largest traced area is ED, smallest ES."""
    if len(tracings) < 2:
        return [], []
    by_area = sorted(tracings, key=lambda frame: tracing_area(tracings[frame]))
    return [by_area[-1]], [by_area[0]]


class EchoNetDataset:
    """The videos of an EchoNet-Dynamic folder, optionally one split ('TRAIN', 'VAL', 'TEST';
    any case), as Clips with ground truth: EF, EDV, ESV, the ED/ES frames and the LV tracings."""

    def __init__(self, root: str | os.PathLike, split: str | None = None):
        self.root = Path(root)
        rows = _read_csv(self.root / FILELIST, ("FileName",) + (("Split",) if split else ()))
        if split:
            rows = [r for r in rows if (r["Split"] or "").strip().upper() == split.strip().upper()]  # short row: None
        self.rows = rows
        self.names = [_stem(r["FileName"]) for r in rows]
        self._index = {name: i for i, name in enumerate(self.names)}
        traced = self.root / TRACINGS
        self._tracings = _read_tracings(traced) if traced.exists() else {}

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Clip]:
        return (self[i] for i in range(len(self)))

    def tracings(self, name: str) -> dict[int, np.ndarray]:
        """{frame: (K, 4) X1, Y1, X2, Y2 segments} traced for the video `name`."""
        return self._tracings.get(_stem(name), {})

    def ef(self, index: int) -> float | None:
        """FileList.csv's EF for the clip at `index`, without reading its video (None: blank or not a number)."""
        try:
            return _ef(self.rows[index])
        except ClipError:
            return None

    def __getitem__(self, key: int | str) -> Clip:
        """The clip at position `key`, or with FileName `key`."""
        if isinstance(key, str):
            if _stem(key) not in self._index:
                raise KeyError(f"'{key}' is not among this dataset's videos.")
            key = self._index[_stem(key)]
        row, name = self.rows[key], self.names[key]
        if Path(name).name != name or name in ("", ".", ".."):   # '../x', '/etc/x', 'a/b': a path, not a file name
            raise ClipError(f"{name} is listed in {FILELIST} as a path, not a file name, leading outside the folder's "
                            f"{VIDEOS}/; it is not read: put the video in {VIDEOS}/ and list it by its plain file name.")
        video = next((v for v in (self.root / VIDEOS / f"{name}.{s}" for s in AVI_SPELLINGS) if v.exists()),
                     None)                          # a camera or Windows copy may name it .AVI, or .Avi
        if video is None:                           # said without the folder's path: in the app it is a server's
            raise ClipError(f"{name} is listed in {FILELIST} but its video, {VIDEOS}/{name}.avi (the suffix in any "
                            "case), is missing (not uploaded, or not in the folder).")
        clip = read_clip(video)
        tracings = self.tracings(name)
        ed, es = ed_es_frames(tracings)
        truth = GroundTruth(ef=_ef(row), edv=_float(row, "EDV"), esv=_float(row, "ESV"),
                            ed_frames=ed, es_frames=es, lv_tracings=dict(tracings))
        fps = _float(row, "FPS")
        meta = {**clip.meta, "echonet_name": name, "split": (row.get("Split") or "").strip()}
        if fps:
            meta.update(fps=fps, fps_source=FILELIST)
        return dataclasses.replace(clip, fps=fps or clip.fps, truth=truth, meta=meta)


def _number(value: float | int | None) -> str:
    """Blank for unknown; whole numbers without '.0'; others at full precision."""
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def write_echonet(root: str | os.PathLike,
                  items: Iterable[tuple[str, Clip, str, Mapping[int, np.ndarray] | None]]) -> Path:
    """Write (name, clip, split, {frame: (K, 4) segments}) items as an EchoNet-Dynamic folder:
    MJPEG AVIs in Videos/, FileList.csv (EF/EDV/ESV from clip.truth), VolumeTracings.csv.
    Tracings None means clip.truth.lv_tracings (all of them). Each item is checked before its video is written
    (a name that is no plain file name, or one naming a video a second time, tracings not (K, 4) segments); on
    a refusal the videos, folders and lists this call made are removed, and lists already there are left as
    they were (the new ones are written beside them and moved into place at the end)."""
    root = Path(root)
    made = [d for d in (root, root / VIDEOS) if not d.exists()]                  # outermost first
    (root / VIDEOS).mkdir(parents=True, exist_ok=True)
    lists = {root / FILELIST: root / f"{FILELIST}.partial", root / TRACINGS: root / f"{TRACINGS}.partial"}
    videos: list[Path] = []
    stems: set[str] = set()
    try:
        with open(lists[root / FILELIST], "w", newline="") as list_fh, \
                open(lists[root / TRACINGS], "w", newline="") as trace_fh:
            file_list, tracing_rows = csv.writer(list_fh), csv.writer(trace_fh)
            file_list.writerow(FILELIST_COLUMNS)
            tracing_rows.writerow(TRACING_COLUMNS)
            for name, clip, split, tracings in items:
                stem = _stem(name)
                if not stem or Path(stem).name != stem or stem.startswith("."):
                    raise ClipError(f"'{name}' cannot be an EchoNet video name: use a plain file name.")
                if stem in stems:
                    raise ClipError(f"'{name}' names the video {stem}.avi a second time: each clip needs its own name.")
                stems.add(stem)
                truth = clip.truth or GroundTruth()
                tracings = truth.lv_tracings if tracings is None else tracings
                for segments in tracings.values():
                    tracing_polygon(segments)  # validates the (K, 4) layout
                videos.append(root / VIDEOS / f"{stem}.avi")
                write_avi(videos[-1], clip)
                file_list.writerow([stem, _number(truth.ef), _number(truth.esv), _number(truth.edv),
                                    clip.height, clip.width, _number(clip.fps), clip.n_frames, split])
                for frame, segments in sorted(tracings.items()):
                    for x1, y1, x2, y2 in np.asarray(segments, np.float64):
                        tracing_rows.writerow([f"{stem}.avi", _number(x1), _number(y1), _number(x2),
                                               _number(y2), int(frame)])
    except BaseException:
        for path in [*videos, *lists.values()]:
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    for final, partial in lists.items():
        os.replace(partial, final)
    return root
