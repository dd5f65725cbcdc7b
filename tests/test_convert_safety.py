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
