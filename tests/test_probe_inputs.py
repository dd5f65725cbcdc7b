"""What a probe is given (model_zoo.probe_inputs): standardisers use the training split's statistics,
stay finite in float16, and the beat view puts each token's change over the beat beside it."""
import pytest
import torch

from model_zoo.probe_inputs import BeatInputs, Standardise, beat_features, standardiser


def _tokens(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    offsets = torch.linspace(-3, 3, 5).view(1, 5, 1)                   # a per-position offset
    return (torch.randn(40, 5, 6, generator=g) * torch.tensor([0.1, 1, 2, 3, 4, 5]) + offsets).half()


def test_dim_standardiser_centres_and_scales_each_dimension_with_training_statistics():
    train = _tokens()
    norm = standardiser(train, "dim")
    z = norm(train).float()
    assert torch.allclose(z.mean((0, 1)), torch.zeros(6), atol=2e-3)
    assert torch.allclose(z.std((0, 1)), torch.ones(6), atol=2e-3)
    assert not torch.allclose(z.mean(0), torch.zeros(5, 6), atol=0.1)   # positions keep their offsets
    other = _tokens(1)
    assert not torch.allclose(norm(other).float().mean((0, 1)), torch.zeros(6), atol=1e-3)  # train stats, not its own


def test_position_standardiser_removes_each_positions_mean():
    train = _tokens()
    z = standardiser(train, "position")(train).float()
    assert torch.allclose(z.mean(0), torch.zeros(5, 6), atol=2e-3)
    assert torch.allclose(z.std(0), torch.ones(5, 6), atol=2e-3)


def test_near_constant_features_stay_finite_in_float16():
    train = _tokens()
    train[..., 0] = 0.25
    train[0, 0, 0] = 0.2505                                            # a std of ~1e-4
    z = standardiser(train, "dim")(train)
    assert z.dtype == torch.float16 and torch.isfinite(z).all()
    assert standardiser(train, "none")(train) is train


def test_beat_features_add_each_tokens_distance_from_its_places_mean_over_the_beat():
    """A place that is the same in every time slot gets zeros beside its tokens; one that alternates between
    two values gets half their difference; the tokens themselves are kept in the first half."""
    t_slots, places, d = 4, 2, 3
    tokens = torch.zeros(1, t_slots, places, d)
    tokens[0, :, 0] = 1.5                                                  # place 0: still
    tokens[0, ::2, 1], tokens[0, 1::2, 1] = 1.0, -1.0                      # place 1: beats
    out = beat_features(tokens.view(1, -1, d).half(), t_slots).float().view(1, t_slots, places, 2 * d)
    assert torch.equal(out[..., :d], tokens)
    assert torch.equal(out[0, :, 0, d:], torch.zeros(t_slots, d))
    assert torch.equal(out[0, :, 1, d:], torch.ones(t_slots, d))
    z = standardiser(tokens.view(1, -1, d).expand(3, -1, -1).half(), "beat", t_slots)(tokens.view(1, -1, d).half())
    assert z.shape == (1, t_slots * places, 2 * d) and torch.isfinite(z).all()


def test_unknown_inputs_and_a_beat_view_without_time_slots_are_named():
    with pytest.raises(ValueError, match="'zscore'"):
        standardiser(_tokens(), "zscore")
    with pytest.raises(ValueError, match="time slots"):
        standardiser(_tokens(), "beat")
    with pytest.raises(ValueError, match="do not split into 2 time slots"):
        standardiser(_tokens(), "beat", 2)                              # 5 tokens


def test_a_fitted_beat_stage_keeps_its_statistics_in_its_state_so_it_reloads_exactly():
    """The beat view ships beside an encoder: its train statistics must travel in the state dict."""
    t_slots, d = 4, 3
    train = torch.randn(6, t_slots * 2, d, generator=torch.Generator().manual_seed(0)).half()
    fitted = standardiser(train, "beat", t_slots)
    assert isinstance(fitted, BeatInputs) and set(fitted.state_dict()) == {"scale.mean", "scale.std"}
    blank = BeatInputs(t_slots, Standardise(torch.zeros(2 * d), torch.ones(2 * d)))
    other = torch.randn(2, t_slots * 2, d, generator=torch.Generator().manual_seed(1)).half()
    assert not torch.equal(blank(other), fitted(other))
    blank.load_state_dict(fitted.state_dict())
    assert torch.equal(blank(other), fitted(other))
    with pytest.raises(ValueError, match="time slots"):
        BeatInputs(0, Standardise(torch.zeros(2 * d), torch.ones(2 * d)))


def test_the_beat_stage_computes_exactly_what_the_evaluations_formula_does():
    """Shipped numbers were made by this formula (beat features, per-dimension statistics with the std
    floored at 1/100 of its mean, clamp, float16); the module form must give the same bits."""
    t_slots = 4
    train = (torch.randn(12, t_slots * 3, 5, generator=torch.Generator().manual_seed(2)) * 3 + 1).half()
    other = (torch.randn(3, t_slots * 3, 5, generator=torch.Generator().manual_seed(3)) * 4).half()
    x = beat_features(train, t_slots).float()
    mean, std = x.mean((0, 1)), x.std((0, 1))
    std = std.clamp_min(0.01 * float(std.mean()))
    by_hand = ((beat_features(other, t_slots).float() - mean) / std).clamp(-1e4, 1e4).half()
    assert torch.equal(standardiser(train, "beat", t_slots)(other), by_hand)
