"""EchoNet-Dynamic layout: tracing geometry, and a write -> read round trip."""
from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from echo.clip import Clip, ClipError, GroundTruth
from echo.echonet import (EchoNetDataset, ed_es_frames, tracing_area, tracing_mask,
                          tracing_polygon, write_echonet)
from echo.readers import read_clip
from echo.writers import write_avi
from builders import gray_clip, lv_tracing


def test_polygon_is_chord_ends_there_and_back_without_long_axis():
    segments = np.array([[5, 0, 5, 10], [2, 3, 8, 3], [3, 6, 7, 6]], float)
    assert tracing_polygon(segments).tolist() == [[2, 3], [3, 6], [7, 6], [8, 3]]
    assert tracing_area(segments) == pytest.approx(15.0)  # trapezoid: (6 + 4) / 2 * 3


def test_tracing_mask_matches_traced_area():
    segments = lv_tracing(15)
    mask = tracing_mask(segments, 112, 112)
    assert mask.shape == (112, 112) and mask[55, 56] and not mask[5, 5]
    assert abs(mask.sum() - tracing_area(segments)) / tracing_area(segments) < 0.1


def test_larger_traced_area_is_end_diastole():
    assert ed_es_frames({30: lv_tracing(10), 12: lv_tracing(18)}) == ([12], [30])
    assert ed_es_frames({4: lv_tracing(10)}) == ([], [])


def phantom_items():
    for k, split in enumerate(["TRAIN", "VAL", "TEST"]):
        truth = GroundTruth(ef=50.0 + k + 0.25, edv=120.5, esv=60.0 - k)
        clip = Clip(gray_clip(t=14, h=112, w=112), 50.0, truth=truth)
        yield f"phantom_{k:03d}", clip, split, {3: lv_tracing(9 + k), 10: lv_tracing(16)}


def test_round_trip(tmp_path):
    write_echonet(tmp_path, phantom_items())
    with open(tmp_path / "FileList.csv", newline="") as fh:
        file_list = list(csv.DictReader(fh))
    assert [r["FileName"] for r in file_list] == ["phantom_000", "phantom_001", "phantom_002"]
    assert file_list[0]["FPS"] == "50" and file_list[0]["FrameHeight"] == "112"
    with open(tmp_path / "VolumeTracings.csv", newline="") as fh:
        assert next(csv.DictReader(fh))["FileName"] == "phantom_000.avi"

    data = EchoNetDataset(tmp_path)
    assert len(data) == 3 and data.names == ["phantom_000", "phantom_001", "phantom_002"]
    originals = list(phantom_items())
    for clip, (_, original, split, tracings) in zip(data, originals):
        assert clip.truth.ef == original.truth.ef and clip.truth.esv == original.truth.esv
        assert clip.truth.ed_frames == [10] and clip.truth.es_frames == [3]
        assert sorted(clip.truth.lv_tracings) == [3, 10]
        assert np.allclose(clip.truth.lv_tracings[3], tracings[3])
        assert clip.fps == 50 and clip.meta["split"] == split and clip.meta["codec"] == "mjpeg"
        assert np.abs(clip.frames.astype(int) - original.frames).mean() < 2
    assert np.allclose(data.tracings("phantom_001.avi")[3], lv_tracing(10))

    validation = EchoNetDataset(tmp_path, split="val")
    assert len(validation) == 1 and validation["phantom_001.avi"].truth.ef == 51.25
    with pytest.raises(KeyError):
        validation["phantom_000"]


def test_tracings_default_to_the_clips_own(tmp_path):
    truth = GroundTruth(ef=55.0, lv_tracings={0: lv_tracing(16), 5: lv_tracing(9)})
    write_echonet(tmp_path, [("own", Clip(gray_clip(h=112, w=112), 50.0, truth=truth), "TEST",
                              None)])
    clip = EchoNetDataset(tmp_path)["own"]
    assert clip.truth.ed_frames == [0] and clip.truth.es_frames == [5]


def test_reads_real_echonet_conventions(tmp_path):
    """FileName without '.avi' in FileList, with it in VolumeTracings, a BOM, extra columns."""
    (tmp_path / "Videos").mkdir()
    write_avi(tmp_path / "Videos" / "0X1A2B3C.avi", gray_clip(t=8, h=112, w=112), 50)
    (tmp_path / "FileList.csv").write_text(
        "\ufeffFileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split,Extra\n"
        "0X1A2B3C,64.2,30.1,84.0,112,112,51,8,TRAIN,x\n", encoding="utf-8")
    rows = [f"0X1A2B3C.avi,{x1},{y1},{x2},{y2},{frame}"
            for frame, width in ((6, 10), (1, 17)) for x1, y1, x2, y2 in lv_tracing(width)]
    (tmp_path / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n" + "\n".join(rows))
    clip = EchoNetDataset(tmp_path, split="TRAIN")[0]
    assert clip.truth.ef == 64.2 and clip.truth.ed_frames == [1] and clip.truth.es_frames == [6]
    assert clip.fps == 51 and clip.meta["fps_source"] == "FileList.csv"
    # '.AVI' in upper case (a camera's or a Windows copy's spelling): the same video, its tracings and its file
    (tmp_path / "Videos" / "0X1A2B3C.avi").rename(tmp_path / "Videos" / "0X1A2B3C.AVI")
    (tmp_path / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n" + "\n".join(rows).replace(".avi", ".AVI"))
    data = EchoNetDataset(tmp_path, split="TRAIN")
    assert data.tracings("0X1A2B3C.AVI").keys() == {1, 6} and data["0X1A2B3C.AVI"].truth.es_frames == [6]
    (tmp_path / "Videos" / "0X1A2B3C.AVI").rename(tmp_path / "Videos" / "0X1A2B3C.aVi")      # any case of the suffix
    assert data[0].truth.es_frames == [6]
    (tmp_path / "Videos" / "0X1A2B3C.aVi").rename(tmp_path / "Videos" / "0x1a2b3c.avi")      # the name's case counts
    with pytest.raises(ClipError, match=r"its video, Videos/0X1A2B3C.avi \(the suffix in any case\), is missing"):
        data[0]
    (tmp_path / "Videos" / "0x1a2b3c.avi").rename(tmp_path / "Videos" / "0X1A2B3C.avi")
    # an EF outside 0-100% is refused by name (999 became an audit's MAE of 951), and not kept as the row's truth
    for ef in ("999", "-3"):
        (tmp_path / "FileList.csv").write_text(f"FileName,EF,FPS,Split\n0X1A2B3C,{ef},51,TRAIN\n")
        data = EchoNetDataset(tmp_path)
        with pytest.raises(ClipError, match=f"FileList.csv gives EF {ef} for '0X1A2B3C'; an EF lies in 0-100%"):
            data[0]
        assert data.ef(0) is None


def test_not_an_echonet_folder(tmp_path):
    with pytest.raises(ClipError, match="not an EchoNet-Dynamic folder"):
        EchoNetDataset(tmp_path)
    (tmp_path / "FileList.csv").write_text("Name,EF\na,50\n")
    with pytest.raises(ClipError, match="lacks the column"):
        EchoNetDataset(tmp_path)


def test_bad_names_and_tracings_refused(tmp_path):
    clip = Clip(gray_clip(), 50.0)
    with pytest.raises(ClipError, match="plain file name"):
        write_echonet(tmp_path, [("../escape", clip, "TRAIN", None)])
    with pytest.raises(ClipError, match="long axis and at least two chords"):
        write_echonet(tmp_path, [("ok", clip, "TRAIN", {0: np.zeros((2, 4))})])


def test_a_name_that_leads_out_of_videos_is_refused_unread(tmp_path, monkeypatch):
    """An uploaded FileList.csv naming '../../x/good' made the audit read a video elsewhere on the server; a name
    that is a path is refused by name, like a missing clip, and never opened. Links inside Videos/ (a dataset
    kept in a cache elsewhere) are read as any file there."""
    import echo.echonet as echonet
    outside = tmp_path / "outside"
    outside.mkdir()
    write_avi(outside / "good.avi", gray_clip(t=8, h=112, w=112), 50)
    data_dir = tmp_path / "data"
    (data_dir / "Videos").mkdir(parents=True)
    write_avi(data_dir / "Videos" / "ok.avi", gray_clip(t=8, h=112, w=112), 50)
    (data_dir / "Videos" / "link.avi").symlink_to(outside / "good.avi")
    (data_dir / "FileList.csv").write_text(f"FileName,EF\nok,50\n../../outside/good,55\nlink,60\n{outside}/good,65\n")
    opened = []
    monkeypatch.setattr(echonet, "read_clip", lambda path: opened.append(path) or read_clip(path))
    data = EchoNetDataset(data_dir)
    assert data["ok"].truth.ef == 50 and data["link"].truth.ef == 60
    for name in ("../../outside/good", f"{outside}/good"):
        said = f"{name} is listed in FileList.csv as a path, not a file name, leading outside the folder's Videos/"
        with pytest.raises(ClipError, match=re.escape(said)):
            data[name]
    assert [p.name for p in opened] == ["ok.avi", "link.avi"]


def test_a_name_given_twice_or_a_bad_item_later_leaves_nothing_behind(tmp_path):
    """'a' and 'a.avi' wrote the same Videos/a.avi (the second clip over the first) while FileList.csv kept both
    rows, and a refusal at the second item left the first video and cut-short lists behind; lists already there
    stay as they were."""
    one, two = Clip(gray_clip(), 50.0), Clip(255 - gray_clip(), 50.0)
    with pytest.raises(ClipError, match="names the video a.avi a second time"):
        write_echonet(tmp_path / "new", [("a", one, "TRAIN", None), ("a.avi", two, "TEST", None)])
    assert not (tmp_path / "new").exists()
    write_echonet(tmp_path / "kept", [("first", one, "TRAIN", None)])
    before = (tmp_path / "kept" / "FileList.csv").read_text()
    with pytest.raises(ClipError, match="plain file name"):
        write_echonet(tmp_path / "kept", [("ok", one, "TRAIN", None), ("../x", two, "TEST", None)])
    assert sorted(p.name for p in (tmp_path / "kept").rglob("*")) == ["FileList.csv", "Videos", "VolumeTracings.csv",
                                                                      "first.avi"]
    assert (tmp_path / "kept" / "FileList.csv").read_text() == before


def test_short_rows_are_named_not_a_crash(tmp_path):
    write_echonet(tmp_path, [("a", Clip(gray_clip(), 50.0), "TRAIN", None)])
    (tmp_path / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\na.avi,1,2\n")
    with pytest.raises(ClipError, match="coordinates or frame are not numbers"):
        EchoNetDataset(tmp_path)
    (tmp_path / "VolumeTracings.csv").unlink()
    (tmp_path / "FileList.csv").write_text("FileName,EF,Split\na,50\n")
    assert EchoNetDataset(tmp_path, split="TRAIN").names == []
