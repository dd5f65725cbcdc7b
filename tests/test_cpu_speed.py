"""The time estimates that refuse slow views use the speed a model's own passes ran at on this machine once it
has run one, and before that this machine's speed at a matrix product: a fixed guess (30 GFLOP/s, measured on a
busy 2-core CPU) refused views that a quiet machine ran 8x faster, and said nothing of being a guess."""
import types

import pytest
import torch

from builders import tiny_wrapper
from explain.analysis import budget
from explain.analysis.budget import OverBudget, check_budget
import model_zoo.cost as cost
from model_zoo.cost import cpu_speed, forward_gflops, machine_speed


def test_token_passes_on_the_cpu_are_timed_and_their_median_speed_is_used():
    wrapper = tiny_wrapper("jepa")
    assert cpu_speed(wrapper) == (machine_speed(torch.get_num_threads()), False)     # no pass yet: the guess
    x = torch.zeros(3, 8, 3, 64, 64)
    wrapper.tokens(x)
    (speed,) = wrapper.cpu_speeds
    assert speed > 0 and cpu_speed(wrapper) == (speed, True)
    wrapper.cpu_speeds.extend([1.0, 5.0, 1000.0])                            # one slow and one fast outlier
    assert cpu_speed(wrapper) == (sorted([speed, 1.0, 5.0, 1000.0])[2], True)
    wrapper.cpu_speeds.extend([7.0] * 5)                                     # only the last five passes count
    assert cpu_speed(wrapper) == (7.0, True) and len(wrapper.cpu_speeds) == 5
    assert cpu_speed(types.SimpleNamespace())[1] is False                   # an object that keeps no timings


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
    monkeypatch.setattr(cost, "machine_speed", lambda threads: gflops / 40.0)  # the guess, before any pass
    with pytest.raises(OverBudget, match="a guess from its size and this CPU's speed at a matrix product"):
        check_budget(model, 10, "The trajectory view")


def test_the_guess_before_any_pass_is_this_machines_speed_at_a_matrix_product(monkeypatch):
    """Positive, cached per thread count, measured without touching torch's thread count (a global every serving
    thread shares); the estimate and the frame advice for a model that has not run use it."""
    from transformers import VJEPA2Config

    def refuse(n):
        raise AssertionError("machine_speed set torch's thread count")
    monkeypatch.setattr(torch, "set_num_threads", refuse)
    machine_speed.cache_clear()
    threads = torch.get_num_threads()
    speed = machine_speed(threads)
    assert speed > 0 and machine_speed(threads) == speed and machine_speed.cache_info().hits >= 1
    vit_l = VJEPA2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, crop_size=224,
                         frames_per_clip=16)
    guess = cost.estimate(vit_l)
    assert guess["cpu_seconds"] == pytest.approx(guess["gflops"] / cpu_speed(vit_l)[0], abs=0.01)
    assert cost.advice(vit_l, budget_s=guess["cpu_seconds"] / 2)["slow"]
