"""Attention capture and rollout: hand-computed rollouts, stochastic rows, the recorder's hooks and
fusion, the read-outs and the EchoJEPA figure mode."""
import pytest
import torch

from builders import tiny_wrapper
from explain.paper_attention import head_view, most_peaked_head, paper_attention
from explain.readout import mean_readout, probe_readout, token_readout
from explain.rollout import attention_rollout, rollout, rollout_with_tokens
from model_zoo.attention import AttentionRecorder, RolloutSpec, attentions, rollout_step

# Two layers, two heads, two tokens.
LAYER1 = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]])   # (1, 2, 2, 2)
LAYER2 = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]]])


@pytest.mark.parametrize("fusion, expected", [
    # mean: A1 = [[.5,.5],[.5,.5]] -> .5 A1 + .5 I = [[.75,.25],[.25,.75]]; A2' = [[.5,.5],[0,1]]; R = A2' A1'
    ("mean", [[0.5, 0.5], [0.25, 0.75]]),
    # max: A1 = ones -> [[1,.5],[.5,1]] / 1.5 = [[2/3,1/3],[1/3,2/3]]
    ("max", [[0.5, 0.5], [1 / 3, 2 / 3]]),
    # min: A1 = zeros -> .5 I renormalised = I, so R = A2'
    ("min", [[0.5, 0.5], [0.0, 1.0]]),
])
def test_rollout_equals_hand_computed(fusion, expected):
    r = rollout([LAYER1, LAYER2], head_fusion=fusion)
    assert torch.allclose(r[0], torch.tensor(expected), atol=1e-6)


def test_start_layer_and_identity_weight():
    assert torch.allclose(rollout([LAYER1, LAYER2], start_layer=1)[0], torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
    # no residual mixing: R = A2 A1 (fused), both rows [0, 1] @ [[.5,.5],[.5,.5]] = [.5, .5]
    assert torch.allclose(rollout([LAYER1, LAYER2], identity=0.0)[0], torch.full((2, 2), 0.5))


def test_discard_drops_the_weakest_keys_per_row_then_renormalises():
    a = torch.tensor([[[0.6, 0.3, 0.1], [0.2, 0.15, 0.65], [0.5, 0.1, 0.4]]])
    out = rollout_step(a, RolloutSpec(discard_ratio=0.34, identity=0.0))          # k = 1 per row
    expected = torch.tensor([[[2 / 3, 1 / 3, 0.0], [4 / 17, 0.0, 13 / 17], [5 / 9, 0.0, 4 / 9]]])
    assert torch.allclose(out, expected, atol=1e-6)


def test_rows_stay_stochastic():
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(2, 4, 20, 20, generator=g).mul(3).softmax(-1) for _ in range(5)]
    for fusion in ("mean", "max", "min"):
        for discard in (0.0, 0.5, 0.9):
            r = rollout(maps, head_fusion=fusion, discard_ratio=discard, start_layer=1)
            assert torch.allclose(r.sum(-1), torch.ones(2, 20), atol=1e-5)
            assert (r >= 0).all()


def test_bad_rollout_arguments_raise():
    with pytest.raises(ValueError, match="head fusion"):
        rollout([LAYER1], head_fusion="median")
    with pytest.raises(ValueError, match="discard_ratio"):
        rollout([LAYER1], discard_ratio=1.0)
    with pytest.raises(ValueError, match="start_layer"):
        rollout([LAYER1, LAYER2], start_layer=2)
    with pytest.raises(ValueError, match="No attention"):
        rollout([])
    with pytest.raises(ValueError, match=r"\(B, heads, N, N\)"):
        rollout([torch.ones(1, 2, 3)])


@pytest.fixture(scope="module", params=["jepa", "mae"])
def tiny(request):
    return tiny_wrapper(request.param)


def clip():
    return torch.randn(2, 8, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_recorder_fuses_in_hook_and_rollout_on_the_fly_matches_recorded(tiny):
    x = clip()
    full = attentions(tiny, x)                                  # 2 layers of (B, heads, N, N)
    assert len(full) == 2 and full[0].shape == (2, 3, 64, 64)
    assert torch.allclose(full[0].sum(-1), torch.ones(2, 3, 64), atol=1e-5)
    for fusion, op in (("mean", torch.mean), ("max", torch.amax), ("min", torch.amin)):
        fused = attentions(tiny, x, fuse_heads=fusion)
        assert all(torch.allclose(f, op(a, 1), atol=1e-6) for f, a in zip(fused, full))
        on_the_fly = attention_rollout(tiny, x, head_fusion=fusion, discard_ratio=0.25)
        assert torch.allclose(on_the_fly, rollout(full, fusion, discard_ratio=0.25), atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(attentions(tiny, x, "max"), tiny.attentions(x, "max")))
    last = attentions(tiny, x, "mean", layers=[-1])
    assert len(last) == 1 and torch.allclose(last[0], full[1].mean(1), atol=1e-6)
    r, tokens = rollout_with_tokens(tiny, x)
    assert torch.allclose(tokens, tiny.tokens(x), atol=1e-5)       # eager tokens equal SDPA's


def test_recorder_removes_hooks_and_restores_attention_even_on_error(tiny):
    before = tiny.encoder.config._attn_implementation
    with pytest.raises(RuntimeError, match="boom"):
        with AttentionRecorder(tiny, fuse_heads="max", rollout=RolloutSpec()) as rec:
            assert tiny.encoder.config._attn_implementation == "eager"
            assert all(m._forward_hooks for m in tiny._attention_modules)
            raise RuntimeError("boom")
    assert not any(m._forward_hooks for m in tiny._attention_modules)
    assert tiny.encoder.config._attn_implementation == before
    with AttentionRecorder(tiny, fuse_heads="mean", keep_maps=False, rollout=RolloutSpec()) as rec:
        tiny.encoder(clip())
        tiny.encoder(clip()[:1])                                    # a second pass replaces the first
    assert rec.maps == [] and rec.rollout.shape == (1, 64, 64)


def test_recorder_arguments_are_checked(tiny):
    with pytest.raises(ValueError, match="fused heads"):
        AttentionRecorder(tiny, fuse_heads=None, rollout=RolloutSpec())
    with pytest.raises(ValueError, match="Layer 5"):
        AttentionRecorder(tiny, layers=[5])
    with pytest.raises(ValueError, match="start_layer"):
        AttentionRecorder(tiny, rollout=RolloutSpec(start_layer=2))


def test_readouts_by_hand():
    r = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]]])
    a = torch.tensor([[0.5, 0.0, 0.5]])
    assert torch.allclose(probe_readout(r, a), torch.tensor([[0.35, 0.35, 0.3]]))
    assert torch.allclose(mean_readout(r), torch.tensor([[0.7, 1.7, 0.6]]) / 3)
    assert torch.allclose(mean_readout(r, drop_self=True), torch.tensor([[0.2, 0.7, 0.0]]) / 3)
    assert torch.allclose(token_readout(r, 2), r[:, 2])
    assert torch.allclose(token_readout(r, [0, 1]), torch.tensor([[0.25, 0.75, 0.0]]))
    with pytest.raises(ValueError, match="needs an EF probe"):
        probe_readout(r, None)
    with pytest.raises(ValueError, match="does not match"):
        probe_readout(r, torch.ones(1, 4) / 4)
    with pytest.raises(ValueError, match="out of range"):
        token_readout(r, 3)
    with pytest.raises(ValueError, match=r"\(B, N, N\)"):
        mean_readout(torch.ones(3, 3))


def test_paper_mode_picks_the_most_peaked_head_and_reads_given_and_received():
    uniform = torch.full((3, 3), 1 / 3)
    peaked = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.9, 0.1, 0.0]])
    a = torch.stack([uniform, peaked])[None]                        # (1, 2, 3, 3)
    assert most_peaked_head(a).tolist() == [1]
    received, head, q = head_view(a, "received")
    assert torch.allclose(received, torch.tensor([[0.3, 0.7, 0.0]])) and head.tolist() == [1]
    given, _, q = head_view(a, "given")                             # default query: most received (token 1)
    assert q.tolist() == [1] and torch.allclose(given, peaked[1][None])
    given, _, q = head_view(a, "given", query=2)
    assert torch.allclose(given, peaked[2][None])
    with pytest.raises(ValueError, match="mode"):
        head_view(a, "taken")


def test_paper_mode_on_a_model(tiny):
    values, info = paper_attention(tiny, clip()[:1], layer=0)
    assert values.shape == (1, 64) and info["layer"] == 0
    full = attentions(tiny, clip()[:1])[0]
    assert torch.allclose(values, full[0, info["head"][0]].mean(0)[None], atol=1e-6)
