"""The JEPA's context encoder sees only visible tubelets; its pieces match transformers' VJEPA2."""
import pytest
import torch

from model_zoo.jepa import JEPA, emphasise_beat, encode_context, predict, target_embeddings, variance_hinge
from model_zoo.recipes import get_recipe
from model_zoo.wrapper import eager_attention

R = get_recipe("smoke")          # 8 frames x 64 px, patch 16, tubelet 2: grid (4, 4, 4), 64 tokens


def scramble_tubelets(x, tokens, grid, tubelet, patch, seed=1):
    """x with fresh random pixels in the tubelets of the given token indices (one clip)."""
    x = x.clone()
    g = torch.Generator().manual_seed(seed)
    _, h, w = grid
    for n in tokens.tolist():
        t, rest = divmod(n, h * w)
        i, j = divmod(rest, w)
        block = x[t * tubelet:(t + 1) * tubelet, :, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch]
        block.copy_(torch.randn(block.shape, generator=g) * 3)
    return x


def test_context_encoder_does_not_see_hidden_tubelets():
    torch.manual_seed(0)
    model = JEPA(R).eval()
    x = torch.randn(2, 8, 3, 64, 64)
    (ctx, _), _ = model.sample_masks(2, torch.Generator().manual_seed(0))
    hidden = [torch.tensor(sorted(set(range(64)) - set(c.tolist()))) for c in ctx]
    x2 = torch.stack([scramble_tubelets(x[b], hidden[b], model.grid, 2, 16) for b in range(2)])
    with torch.no_grad():
        out = encode_context(model.context_encoder, x, ctx)
        out2 = encode_context(model.context_encoder, x2, ctx)
        # transformers' own forward runs the encoder on the whole clip: there the context leaks
        leaky = model.net(x, context_mask=[ctx], target_mask=[ctx], skip_predictor=True).masked_hidden_state
        leaky2 = model.net(x2, context_mask=[ctx], target_mask=[ctx], skip_predictor=True).masked_hidden_state
    assert torch.allclose(out, out2, atol=1e-6, rtol=0)
    assert not torch.allclose(leaky, leaky2, atol=1e-3)


def test_context_encoder_on_every_token_is_the_plain_encoder():
    model = JEPA(R).eval()
    x = torch.randn(2, 8, 3, 64, 64)
    every = torch.arange(64).expand(2, -1)
    with torch.no_grad():
        assert torch.allclose(encode_context(model.context_encoder, x, every),
                              model.context_encoder(x).last_hidden_state, atol=1e-5)


def test_sdpa_used_in_training_matches_eager_attention():
    model = JEPA(R).eval()
    x = torch.randn(2, 8, 3, 64, 64)
    with torch.no_grad():
        sdpa = model.net.encoder(x).last_hidden_state
        with eager_attention(model.net):
            eager = model.net.encoder(x).last_hidden_state
    assert torch.allclose(sdpa, eager, atol=1e-5)


def test_loss_is_l1_on_layer_normed_targets_and_reports_collapse_stats():
    torch.manual_seed(0)
    model = JEPA(R)
    x = torch.randn(2, 8, 3, 64, 64)
    masks = model.sample_masks(2, torch.Generator().manual_seed(0))
    loss, stats = model.loss(x, masks)
    # zero-initialised mask tokens and a fresh predictor: prediction ~ constant, targets unit-variance
    assert 0.3 < loss.item() < 1.5
    assert set(stats) == {"token_std", "clip_std"} and stats["token_std"] > 0.1
    loss.backward()
    assert model.context_encoder.embeddings.patch_embeddings.proj.weight.grad is not None
    assert all(p.grad is None for p in model.net.encoder.parameters())


def test_centred_targets_leave_nothing_to_predict_when_every_clip_is_the_same():
    """With jepa_center_targets the loss is paid only on what differs between clips: a batch of one
    clip repeated has all-zero targets, so the loss is the predictions' mean magnitude; without it,
    the same batch keeps its layer-normed targets."""
    torch.manual_seed(0)
    plain = JEPA(R)
    centred = JEPA(get_recipe("smoke", jepa_center_targets=True))
    centred.load_state_dict(plain.state_dict())
    x = torch.randn(1, 8, 3, 64, 64).expand(3, -1, -1, -1, -1).contiguous()
    masks = plain.sample_masks(3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        preds = []
        for k, (ctx, tgt) in enumerate(masks):
            z = encode_context(centred.context_encoder, x, ctx)
            preds.append(predict(centred.net.predictor, z, ctx, tgt, mask_index=k).abs().mean())
        loss_centred = centred.loss(x, masks)[0]
        loss_plain = plain.loss(x, masks)[0]
    assert torch.allclose(loss_centred, torch.stack(preds).mean(), atol=1e-5)
    assert abs(loss_plain.item() - loss_centred.item()) > 0.05


def test_target_embeddings_one_layer_is_the_encoder_output_and_top_k_reads_the_middle_blocks():
    """jepa_target_layers = 1 keeps V-JEPA's targets exactly (the layer-normed encoder output); K > 1
    averages the last K blocks, so changing a block before the last changes the targets only then."""
    torch.manual_seed(0)
    enc = JEPA(R).net.encoder.eval()                     # smoke: 2 blocks
    x = torch.randn(2, 8, 3, 64, 64)
    with torch.no_grad():
        out = enc(x).last_hidden_state
        one, raw = target_embeddings(enc, x, 1)
        two, _ = target_embeddings(enc, x, 2)
        assert torch.allclose(raw, out, atol=1e-6)
        assert torch.allclose(one, torch.nn.functional.layer_norm(out, (out.shape[-1],)), atol=1e-6)
        assert not torch.allclose(one, two, atol=1e-2)
        for p in (*enc.layer[1].mlp.fc2.parameters(), *enc.layer[1].attention.proj.parameters()):
            p.zero_()                                    # block 1 now passes block 0's output through
        one_after, _ = target_embeddings(enc, x, 1)
        two_after, _ = target_embeddings(enc, x, 2)
    # the last block is now the identity: K = 2 averages two layer-normed copies of the same thing
    h0 = enc.layer[0](enc.embeddings(x), None)[0]
    ln = torch.nn.functional.layer_norm
    d = h0.shape[-1]
    expected = ln((ln(h0, (d,)) + ln(enc.layernorm(h0), (d,))) / 2, (d,))
    assert torch.allclose(two_after, expected, atol=1e-5)
    assert torch.allclose(one_after, ln(enc.layernorm(h0), (d,)), atol=1e-5)


def test_target_layers_past_the_encoder_depth_are_refused():
    enc = JEPA(R).net.encoder
    with pytest.raises(ValueError, match="jepa_target_layers must be 1..2"):
        target_embeddings(enc, torch.randn(1, 8, 3, 64, 64), 3)


def test_variance_term_is_added_only_when_weighted_and_is_gamma_for_identical_clips():
    """jepa_var_weight adds weight * mean relu(gamma - clip std) to the L1 loss, every clip encoded at
    the same places: a batch of one clip repeated has no spread, so the term is gamma, however differently
    each copy's own context was masked; a larger output scale cannot pay it, gamma 0 makes it vanish."""
    torch.manual_seed(0)
    plain = JEPA(R)
    var = JEPA(get_recipe("smoke", jepa_var_weight=2.0, jepa_var_gamma=0.3))
    var.load_state_dict(plain.state_dict())
    x = torch.randn(1, 8, 3, 64, 64).expand(3, -1, -1, -1, -1).contiguous()
    masks = plain.sample_masks(3, torch.Generator().manual_seed(0))
    assert not torch.equal(masks[-1][0][0], masks[-1][0][1])                 # each copy masked its own way
    with torch.no_grad():
        loss_plain, stats_plain = plain.loss(x, masks)
        loss_var, stats_var = var.loss(x, masks)
    assert "var_hinge" not in stats_plain and abs(stats_var["var_hinge"] - 0.3) < 1e-4
    assert torch.allclose(loss_var, loss_plain + 2.0 * 0.3, atol=1e-4)
    with torch.no_grad():
        spread = var.loss(torch.randn(3, 8, 3, 64, 64), masks)[1]["var_hinge"]
    assert spread < 0.3 - 0.01                                                # different clips pay some of it
    z = torch.randn(4, 5, 16, requires_grad=True)
    hinge = variance_hinge(z, gamma=10.0)
    hinge.backward()
    assert 0 < hinge.item() < 10.0 and z.grad.abs().sum() > 0
    assert variance_hinge(z.detach(), gamma=0.0).item() == 0.0
    assert torch.allclose(variance_hinge(z.detach() * 5, 1.0), variance_hinge(z.detach(), 1.0), atol=1e-5)


def test_variance_term_refuses_a_batch_of_one():
    with pytest.raises(ValueError, match="at least 2 clips"):
        variance_hinge(torch.randn(1, 5, 16), 0.2)


@pytest.mark.parametrize("overrides", [dict(jepa_var_weight=-1.0), dict(jepa_var_weight=1.0, jepa_var_gamma=0.0),
                                       dict(jepa_var_weight=1.0, batch=1)])
def test_variance_term_settings_that_cannot_work_are_refused_at_construction(overrides):
    with pytest.raises(ValueError, match="variance term"):
        JEPA(get_recipe("smoke", **overrides))


def test_beat_emphasis_scales_only_what_changes_over_the_clip():
    """emphasise_beat keeps each place's mean over the time slots and multiplies each slot's deviation
    from it by 1 + weight; a target the same in every slot is left as it is, and weight 0 changes nothing."""
    torch.manual_seed(0)
    static = torch.randn(2, 1, 16, 8).expand(-1, 4, -1, -1).reshape(2, 64, 8)     # (B, T' * H'W', D)
    assert torch.allclose(emphasise_beat(static, 4, 2.0), static)
    t = torch.randn(2, 64, 8)
    out = emphasise_beat(t, 4, 2.0).view(2, 4, 16, 8)
    slots = t.view(2, 4, 16, 8)
    assert torch.allclose(out.mean(1), slots.mean(1), atol=1e-6)
    assert torch.allclose(out - out.mean(1, keepdim=True), 3 * (slots - slots.mean(1, keepdim=True)), atol=1e-5)
    assert emphasise_beat(t, 4, 0.0) is t
    with pytest.raises(ValueError, match="10 tokens do not split into 4 time slots"):
        emphasise_beat(torch.randn(1, 10, 8), 4, 2.0)


def test_motion_weight_changes_the_loss_only_for_clips_that_change_over_time():
    """With jepa_motion_weight the loss differs from the plain one on a clip whose frames differ, and not on
    a clip whose frames are all the same (its targets have no beat to weigh). A negative weight is refused."""
    torch.manual_seed(0)
    plain = JEPA(R)
    moving = JEPA(get_recipe("smoke", jepa_motion_weight=2.0))
    moving.load_state_dict(plain.state_dict())
    masks = plain.sample_masks(2, torch.Generator().manual_seed(0))
    still = torch.randn(2, 1, 3, 64, 64).expand(-1, 8, -1, -1, -1).contiguous()
    beating = torch.randn(2, 8, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(moving.loss(still, masks)[0], plain.loss(still, masks)[0], atol=1e-5)
        assert moving.loss(beating, masks)[0].item() > plain.loss(beating, masks)[0].item() + 0.05
    with pytest.raises(ValueError, match="jepa_motion_weight"):
        JEPA(get_recipe("smoke", jepa_motion_weight=-1.0))


def test_invariance_term_is_zero_for_identical_views_and_pays_for_a_shadowed_context():
    """jepa_invariance_weight adds weight * L1(context encoder on the read view, target encoder on the targets'
    view) at the context's places: with both encoders equal and the two views the same clip only what the hidden
    tokens add to the target encoder's attention is left, a small term; a darkened context view pays many times
    more, and only the context encoder gets its gradient. A negative weight is refused."""
    torch.manual_seed(0)
    plain = JEPA(R)
    inv = JEPA(get_recipe("smoke", jepa_invariance_weight=2.0))
    inv.load_state_dict(plain.state_dict())
    clip = torch.randn(2, 8, 3, 64, 64)
    masks = plain.sample_masks(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        same = torch.stack([clip, clip], 1)                                     # (B, 2, T, C, H, W)
        loss_plain, _ = plain.loss(same, masks)
        loss_same, stats_same = inv.loss(same, masks)
        assert "invariance" not in plain.loss(same, masks)[1]
    assert stats_same["invariance"] < 0.01
    assert torch.allclose(loss_same, loss_plain + 2.0 * stats_same["invariance"], atol=1e-5)
    shadowed = torch.stack([clip * torch.linspace(1, 0.1, 64).view(1, 1, 1, 64), clip], 1)
    loss, stats = inv.loss(shadowed, masks)
    assert stats["invariance"] > 10 * stats_same["invariance"]
    with torch.no_grad():
        assert torch.allclose(loss, plain.loss(shadowed, masks)[0] + 2.0 * stats["invariance"], atol=1e-4)
    loss.backward()
    assert all(p.grad is None for p in inv.net.encoder.parameters())
    assert inv.context_encoder.layer[0].mlp.fc1.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="jepa_invariance_weight"):
        JEPA(get_recipe("smoke", jepa_invariance_weight=-1.0))
