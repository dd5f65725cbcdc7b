"""Where models run: a device asked for by name is used, or refused by name when this machine lacks it."""
import pytest
import torch

from model_zoo.device import pick_device


def test_a_named_device_this_machine_lacks_is_refused_by_name(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu") and pick_device(torch.device("cpu")).type == "cpu"
    for unknown in ("tpu", "meta", "xpu"):                 # torch knows some of them; EchoLens runs on none
        with pytest.raises(ValueError, match=f"Unknown device '{unknown}': use cuda, mps or cpu"):
            pick_device(unknown)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="this torch has no CUDA device"):
        pick_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)     # one GPU: cuda:1 is not there
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="'cuda:1' was asked for, but this machine has 1 CUDA device"):
        pick_device("cuda:1")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="Apple MPS is not available"):
        pick_device("mps")


def test_the_code_commit_is_a_commit_marked_only_when_code_differs():
    """Result files record it; '-modified' follows the .py files alone (tests rewrite the screenshots)."""
    import re
    from model_zoo.device import code_commit
    commit = code_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(-modified)?", commit)
    from model_zoo.device import short_commit
    assert short_commit("0123456789abcdef" * 2 + "01234567-modified") == "0123456789ab-modified"
    assert short_commit(None) == "no git checkout"          # not cut to 'no git check'
