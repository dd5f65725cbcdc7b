"""Training state is written atomically: a failed write leaves neither a half-written state nor its temporary file."""
import pickle

import pytest

from model_zoo.checkpoint import save_state


def test_a_state_that_cannot_be_saved_leaves_no_temporary_file(tmp_path):
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save_state(tmp_path / "state.pt", {"step": 3, "f": lambda: 0})
    assert list(tmp_path.iterdir()) == []
