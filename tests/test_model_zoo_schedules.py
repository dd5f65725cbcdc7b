"""The EMA update and momentum schedule, the learning-rate schedule and the weight-decay groups."""
import pytest
import torch
from torch import nn

from model_zoo.ema import ema_update, momentum_at
from model_zoo.jepa import JEPA
from model_zoo.optim import lr_at, make_optimizer
from model_zoo.recipes import get_recipe


def test_ema_update_by_hand():
    target, online = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        target.weight.copy_(torch.tensor([[1.0, 2.0]]))
        target.bias.fill_(0.5)
        online.weight.copy_(torch.tensor([[3.0, -2.0]]))
        online.bias.fill_(1.5)
    ema_update(target, online, 0.9)
    # 0.9 * 1 + 0.1 * 3 = 1.2; 0.9 * 2 + 0.1 * -2 = 1.6; 0.9 * 0.5 + 0.1 * 1.5 = 0.6
    assert torch.allclose(target.weight, torch.tensor([[1.2, 1.6]]))
    assert torch.allclose(target.bias, torch.tensor([0.6]))
    assert torch.equal(online.weight, torch.tensor([[3.0, -2.0]]))


def test_ema_update_leaves_what_the_online_model_does_not_train():
    target, online = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        target.weight.fill_(1.0)
        online.weight.fill_(3.0)
        target.bias.fill_(0.5)
        online.bias.fill_(1.5)
    online.weight.requires_grad_(False)
    ema_update(target, online, 0.9)
    assert torch.equal(target.weight, torch.ones(1, 2))                # frozen online weight: target untouched
    assert torch.allclose(target.bias, torch.tensor([0.6]))            # the trained bias still averages


def test_momentum_rises_linearly_to_one():
    assert momentum_at(0, 100, 0.996, 1.0) == pytest.approx(0.996)
    assert momentum_at(50, 100, 0.996, 1.0) == pytest.approx(0.998)
    assert momentum_at(100, 100, 0.996, 1.0) == pytest.approx(1.0)


def test_jepa_after_step_moves_the_target_towards_the_context_encoder():
    r = get_recipe("smoke", steps=10)
    model = JEPA(r)
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.net.encoder.parameters()]
    model.after_step(5, 10)                              # momentum 0.998
    for old, new, online in zip(before, model.net.encoder.parameters(), model.context_encoder.parameters()):
        assert torch.allclose(new, 0.998 * old + 0.002 * online, atol=1e-6)
    assert not any(p.requires_grad for p in model.net.encoder.parameters())


def test_lr_warms_up_then_decays_by_cosine():
    r = get_recipe("small", steps=1000, warmup_frac=0.1, final_lr_frac=0.01)
    assert lr_at(0, 1.0, r) == pytest.approx(0.01)
    assert lr_at(99, 1.0, r) == pytest.approx(1.0)
    assert lr_at(550, 1.0, r) == pytest.approx(0.505)
    assert lr_at(1000, 1.0, r) == pytest.approx(0.01)
    assert r.mae_lr == pytest.approx(r.mae_blr * r.batch / 256)   # VideoMAE's scaling rule


def test_no_weight_decay_on_biases_norms_and_mask_tokens():
    model = JEPA(get_recipe("smoke"))
    opt = make_optimizer(model.trainable(), get_recipe("smoke"))
    decayed, free = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and free["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"])
    assert any(p is model.net.predictor.embeddings.mask_tokens for p in free["params"])
    assert opt.defaults["betas"] == (0.9, 0.95)
