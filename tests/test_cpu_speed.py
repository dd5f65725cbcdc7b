"""The time estimates that refuse slow views use the speed a model's own passes ran at on this machine once it
has run one: a fixed guess (30 GFLOP/s, measured on a busy 2-core CPU) refused views that a quiet or larger
machine would run several times faster, and said nothing of being a guess."""
import types

import pytest
import torch

from builders import tiny_wrapper
from explain.analysis import budget
from explain.analysis.budget import OverBudget, check_budget
from model_zoo.cost import CPU_GFLOPS, cpu_speed, forward_gflops


def test_token_passes_on_the_cpu_are_timed_and_their_median_speed_is_used():
    wrapper = tiny_wrapper("jepa")
    assert cpu_speed(wrapper) == (CPU_GFLOPS, False)                      # no pass yet: the guess
    x = torch.zeros(3, 8, 3, 64, 64)
    wrapper.tokens(x)
    (speed,) = wrapper.cpu_speeds
    assert speed > 0 and cpu_speed(wrapper) == (speed, True)
    wrapper.cpu_speeds.extend([1.0, 5.0, 1000.0])                            # one slow and one fast outlier
    assert cpu_speed(wrapper) == (sorted([speed, 1.0, 5.0, 1000.0])[2], True)
    wrapper.cpu_speeds.extend([7.0] * 5)                                     # only the last five passes count
    assert cpu_speed(wrapper) == (7.0, True) and len(wrapper.cpu_speeds) == 5
    assert cpu_speed(types.SimpleNamespace()) == (CPU_GFLOPS, False)        # an object that keeps no timings


def test_a_pass_is_timed_per_clip_at_the_frames_it_was_given(monkeypatch):
    """Speed = the pass's GFLOPs (its batch, its frame count) over its seconds: a pass of half the frames or
    more clips is not taken for a faster or slower machine."""
    import model_zoo.wrapper as wrapper_module
    wrapper = tiny_wrapper("jepa")                                       # rotary positions: any frame count
    clock = iter([10.0, 12.0, 20.0, 21.0])                                 # 2 s, then 1 s
    monkeypatch.setattr(wrapper_module, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    wrapper.tokens(torch.zeros(4, 8, 3, 64, 64))
    wrapper.tokens(torch.zeros(1, 4, 3, 64, 64))
    assert list(wrapper.cpu_speeds) == pytest.approx([forward_gflops(wrapper, 8)[1] * 4 / 2.0,
                                                      forward_gflops(wrapper, 4)[1] / 1.0])


def test_the_budget_refusal_uses_the_measured_speed_and_says_which_it_used(monkeypatch):
    from explain.analysis.pair import LoadedModel
    model = LoadedModel("jepa", tiny_wrapper("jepa"), None, None, None, True)
    gflops = forward_gflops(model.wrapper)[1]
    model.wrapper.cpu_speeds.append(gflops / 40.0)                           # this machine: 40 s a pass
    assert budget.cpu_seconds(model, 10) == pytest.approx(400.0, rel=0.01)
    with pytest.raises(OverBudget, match=r"about 7 min on this CPU \(64 tokens, 40\.0 s a pass, as its passes "
                                         r"ran here\)") as e:
        check_budget(model, 10, "The trajectory view")
    assert e.value.seconds == pytest.approx(400.0, rel=0.01)
    model.wrapper.cpu_speeds.append(gflops / 0.5)                            # later passes ran faster: median 2 of 3
    model.wrapper.cpu_speeds.append(gflops / 0.5)
    check_budget(model, 10, "The trajectory view")                           # 5 s: allowed
    model.wrapper.cpu_speeds.clear()
    monkeypatch.setattr("model_zoo.cost.CPU_GFLOPS", gflops / 40.0)          # the guess, before any pass
    with pytest.raises(OverBudget, match="a guess from its size until it has run a pass here"):
        check_budget(model, 10, "The trajectory view")
