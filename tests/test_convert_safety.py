"""Checkpoint files are read without running code: a size cap, and pickles needing foreign globals refused by name."""
import collections
import re

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
    size = (tmp_path / "big.pt").stat().st_size                        # about 5 KiB
    with pytest.raises(ValueError, match=rf"big.pt is {size / 1024:.1f} KiB, over the 1000 bytes cap"):
        load_tensors(tmp_path / "big.pt", max_bytes=1000)              # not '0.00 GiB over the 0.00 GiB cap'
    with pytest.raises(ValueError, match="cap"):
        model_zoo.load(tmp_path / "big.pt", max_bytes=1000)
    assert torch.equal(load_tensors(tmp_path / "big.pt")["w"], torch.zeros(1000))
    assert torch.equal(load_tensors(tmp_path / "big.pt", max_bytes=size)["w"], torch.zeros(1000))   # a cap of its size

    with pytest.raises(ValueError, match="cap"):
        load_tensors(tmp_path / "big.pt", max_bytes=size - 1)


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


class Evaluates:
    def __reduce__(self):
        return (eval, ("RAN.append('ran')",))


@pytest.mark.parametrize("protocol, names", [(2, "__builtin__.eval, __builtin__.getattr"),
                                             (4, "builtins.eval, builtins.getattr"),
                                             (5, "builtins.eval, builtins.getattr")])
def test_a_raw_pickle_is_refused_with_its_globals_named(tmp_path, protocol, names):
    """pickle.dump, not torch.save: the globals are read from its opcodes, never run; at protocol 4 and 5 the
    module names come back through the pickler's memo."""
    import pickle
    (tmp_path / "raw.pt").write_bytes(pickle.dumps({"a": Payload(), "b": Evaluates()}, protocol=protocol))
    with pytest.raises(UnsafeCheckpointError, match=rf"raw.pt refused.*\({names}\)"):
        load_tensors(tmp_path / "raw.pt")
    assert RAN == []


@pytest.mark.parametrize("text", ["Patient notes, not a model.\n", "cat\nnotes about the model\n",
                                  "hello this is text\n",    # 'h' reads as a memo lookup: torch raises KeyError(101)
                                  "root:x:0:0:root:/root:/bin/bash\n", "all notes\n", "(draft)\n", "}\n"])
# /etc/passwd and text starting with a b e r s t u ( ) . ] } raised a bare IndexError (an opcode on an empty stack)
def test_a_text_file_is_no_checkpoint_even_where_its_letters_read_as_opcodes(tmp_path, text):
    (tmp_path / "notes.pt").write_text(text)            # 'c' is protocol 0's GLOBAL opcode
    with pytest.raises(ValueError, match="notes.pt is not a torch checkpoint: neither a zip archive nor a pickle"):
        load_tensors(tmp_path / "notes.pt")


@pytest.mark.parametrize("name", ["empty.pt", "empty.safetensors", "empty.mp4"])
def test_an_empty_file_is_called_empty(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} is empty \(0 bytes\), not a checkpoint"):
        model_zoo.load(tmp_path / name)


def test_unreadable_and_unknown_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        load_tensors(tmp_path / "junk.pt")
    save_file({"something.else": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="unrecognised checkpoint layout.*something.else"):
        model_zoo.load(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        model_zoo.load(tmp_path / "absent.pt")


def test_a_safetensors_file_named_as_a_torch_checkpoint_is_told_to_take_its_suffix(tmp_path):
    """It was called 'not a torch checkpoint ... is it the file you meant?', which it was; a text file starting with
    '{' after eight bytes is still no checkpoint."""
    save_file({"w": torch.zeros(2)}, str(tmp_path / "weights.pt"))
    with pytest.raises(ValueError, match=r"^weights.pt is a safetensors file named as a torch checkpoint: rename it "
                                         r"weights.safetensors"):
        model_zoo.load(tmp_path / "weights.pt")
    (tmp_path / "text.pt").write_bytes(b"\xff" * 8 + b"{ not safetensors")
    with pytest.raises(ValueError, match="text.pt is not a torch checkpoint"):
        load_tensors(tmp_path / "text.pt")


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


@pytest.mark.parametrize("name, text, problem", [
    ("probe.json", '{"kind": "attentive", "heads": 3}', r"probe.json lacks 'dim', 'mlp_ratio'"),
    ("probe.json", "{not json", r"probe.json is not valid JSON"),
    ("ood.json", '{"mean": [0.0]}', r"ood.json lacks 'axes'"),
    ("ood.json", "[1, 2]", r"ood.json holds a JSON list"),
    ("config.json", '{"hidden_size": 8}', r"config.json lacks 'model_type'"),
    ("card.json", "", r"card.json is not valid JSON"),
])
def test_a_damaged_card_beside_a_model_is_refused_by_name(tmp_path, name, text, problem):
    """A card, config or reference a user's folder holds that cannot be read names the file and what is wrong
    (the page showed a bare key, 'dim', or 'Something went wrong (TypeError)')."""
    import shutil
    from explain.analysis.pair import load_model
    from model_zoo.registry import resolve
    folder = tmp_path / "mae"
    shutil.copytree(resolve("mae-small")[0], folder)
    (folder / name).write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_model(str(folder), "mae", "cpu")


def _native(tmp_path, change):
    """A V-JEPA 2 checkpoint changed by `change`, as the encoder; no probe."""
    from tests.builders import vjepa2_checkpoint
    ckpt = vjepa2_checkpoint()
    change(ckpt)
    torch.save(ckpt, tmp_path / "enc.pt")
    return tmp_path / "enc.pt", None


def _probe(tmp_path, change):
    """A good V-JEPA 2 encoder with a V-JEPA probe changed by `change` (its 'classifier' state, prefixed)."""
    from tests.builders import vjepa2_checkpoint, vjepa_probe_checkpoint
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    probe = vjepa_probe_checkpoint()
    probe = change(probe) or probe
    torch.save(probe, tmp_path / "probe.pt")
    return tmp_path / "enc.pt", tmp_path / "probe.pt"


def _listed_shards(tmp_path, change):
    """The shipped JEPA's config.json beside a shard index whose weight_map is a list of its files."""
    import json
    import shutil
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "jepa"
    folder.mkdir()
    shutil.copy(SHIPPED / "jepa-small" / "config.json", folder)
    shutil.copy(SHIPPED / "jepa-small" / "model.safetensors", folder / "model-00001-of-00001.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": ["model-00001-of-00001.safetensors"]}))
    return folder, None


def _set(key, value, inner="target_encoder"):
    return lambda c: c[inner].__setitem__(key, value) if inner else c.__setitem__(key, value)


@pytest.mark.parametrize("build, change, problem", [
    (_native, _set("target_encoder", None, None), r"'target_encoder' is None, not a state dict"),
    (_native, _set("module.backbone.patch_embed.proj.weight", [1, 2]), r"'patch_embed.proj.weight' is a list, not a"),
    (_probe, lambda p: {"classifier": torch.zeros(3)}, r"'classifier' is a Tensor, not a state dict"),
    (_probe, lambda p: {"classifiers": {"0": p["classifier"]}}, r"'classifiers' is a dict, not a list"),
    (_probe, _set("module.pooler.query_tokens", torch.zeros(32), "classifier"), r"query_tokens has shape \(32,\)"),
    (_probe, _set("module.linear.weight", torch.zeros(32), "classifier"), r"linear.weight has shape \(32,\)"),
    (_listed_shards, None, r"index.json: its weight_map does not map tensor names to file names; copy it again"),
], ids=["target encoder None", "patch conv a list", "classifier a tensor", "classifiers a dict", "query tokens 1-D",
        "linear 1-D", "weight_map a list"])
def test_a_checkpoint_of_the_wrong_structure_is_refused_by_name(tmp_path, build, change, problem):
    """A None where a state dict belongs, a list where a tensor does, a 1-D probe tensor, a shard index whose
    weight_map is a list: each crashed (AttributeError, IndexError) where the app shows only 'Something went wrong',
    or, for a 1-D output layer, was called a classifier of 32 outputs; each is a ValueError naming it now."""
    path, probe = build(tmp_path, change)
    overrides = {"frames": 4, "size": 32, "heads": 2} if path.suffix == ".pt" else None
    with pytest.raises(ValueError, match=problem):
        model_zoo.load(path, device="cpu", overrides=overrides, probe=probe)
