"""Checkpoint files are read without running code: a size cap, and pickles needing foreign globals refused by name."""
import collections

import pytest
import torch
from safetensors.torch import save_file

import model_zoo
from model_zoo.convert.safety import UnsafeCheckpointError, load_tensors

RAN = []


class Payload:
    """Unpickling this would call RAN.append: the refusal must come first."""

    def __reduce__(self):
        return (RAN.append, ("ran",))


class StateDict(collections.OrderedDict):
    pass


def test_size_cap(tmp_path):
    torch.save({"w": torch.zeros(1000)}, tmp_path / "big.pt")
    with pytest.raises(ValueError, match="over the .* GiB cap"):
        load_tensors(tmp_path / "big.pt", max_bytes=1000)
    with pytest.raises(ValueError, match="cap"):
        model_zoo.load(tmp_path / "big.pt", max_bytes=1000)
    assert torch.equal(load_tensors(tmp_path / "big.pt")["w"], torch.zeros(1000))


def test_foreign_globals_are_refused_and_named(tmp_path):
    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"evil.pt refused.*builtins.getattr"):
        load_tensors(tmp_path / "evil.pt")
    assert RAN == []
    torch.save({"model": StateDict(w=torch.ones(2))}, tmp_path / "subclass.pth")
    with pytest.raises(UnsafeCheckpointError, match="StateDict"):
        model_zoo.load(tmp_path / "subclass.pth")
    torch.save({"model": collections.OrderedDict(w=torch.ones(2))}, tmp_path / "plain.pth")
    assert torch.equal(load_tensors(tmp_path / "plain.pth")["model"]["w"], torch.ones(2))   # allowed


def test_unreadable_and_unknown_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        load_tensors(tmp_path / "junk.pt")
    save_file({"something.else": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="unrecognised checkpoint layout.*something.else"):
        model_zoo.load(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        model_zoo.load(tmp_path / "absent.pt")


def test_damaged_safetensors_are_refused_by_name_wherever_they_lie(tmp_path):
    """A truncated safetensors file, alone or in a model folder (weights or probe), gives a ValueError that names
    the file, not safetensors' own error type (which the app would show as 'something went wrong')."""
    import shutil
    from explain.analysis.pair import load_model
    from model_zoo.registry import resolve
    (tmp_path / "cut.safetensors").write_bytes(b"\xff" * 100)
    with pytest.raises(ValueError, match=r"cut.safetensors is not a readable safetensors file .*truncated"):
        model_zoo.load(tmp_path / "cut.safetensors")
    shipped = resolve("mae-small")[0]
    for name in ("model.safetensors", "probe.safetensors"):
        folder = tmp_path / name.split(".")[0]
        shutil.copytree(shipped, folder)
        (folder / name).write_bytes((shipped / name).read_bytes()[:100])
        with pytest.raises(ValueError, match=f"{name} is not a readable safetensors file"):
            load_model(str(folder), "mae", "cpu")
