"""The JEPA-folder experiments' shared command line: NAME=FOLDER pairs, or a clear refusal."""
from pathlib import Path

import pytest

from model_zoo.experiments.named_folders import parse_named_folders


def test_pairs_become_a_name_to_folder_map_in_order():
    folders, out, threads = parse_named_folders("doc", ["--models", "a=runs/x/model,b=runs/y=z", "--out", "o.json",
                                                        "--threads", "2"])
    assert folders == {"a": "runs/x/model", "b": "runs/y=z"} and list(folders) == ["a", "b"]
    assert out == Path("o.json") and threads == 2


@pytest.mark.parametrize("models", ["runs/x/model", "a=", "=runs/x", "a=x,,b=y"])
def test_a_malformed_pair_is_refused_by_name(models, capsys):
    with pytest.raises(SystemExit):
        parse_named_folders("doc", ["--models", models, "--out", "o.json"])
    assert "NAME=FOLDER" in capsys.readouterr().err
