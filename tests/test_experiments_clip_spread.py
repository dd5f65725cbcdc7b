"""The clip-spread experiment's measure: what it reports for encoders whose spreads are known by construction."""
from types import SimpleNamespace

import pytest
import torch

from model_zoo.experiments.clip_spread import spreads

B, N, D = 8, 12, 16


class FixedTokens(torch.nn.Module):
    """Fixed tokens for each clip: a clip's first pixel is the row of `tokens` it gets."""

    def __init__(self, tokens: torch.Tensor):
        super().__init__()
        self.tokens = tokens                                              # (clips, N, D)
        self.config = SimpleNamespace(hidden_size=tokens.shape[-1])

    def forward(self, x):                                                 # x (B, T, C, H, W)
        rows = x[:, 0, 0, 0, 0].long()
        return SimpleNamespace(last_hidden_state=self.tokens[rows])


def batches(n_batches: int = 2) -> list[torch.Tensor]:
    """Clips whose first pixel is their index in the batch."""
    x = torch.zeros(B, 2, 1, 4, 4)
    x[:, 0, 0, 0, 0] = torch.arange(B, dtype=torch.float32)
    return [x] * n_batches


def test_an_encoder_blind_to_the_clip_spreads_nothing_across_clips():
    torch.manual_seed(0)
    per_position = torch.randn(1, N, D).expand(B, N, D)                  # every clip: the same tokens
    out = spreads(FixedTokens(per_position), batches())
    assert out["clip_spread"] == pytest.approx(0, abs=1e-6)
    assert out["position_spread"] == pytest.approx(0, abs=1e-6)
    assert out["token_spread"] > 0.5                                      # tokens differ only by place


def test_a_clip_code_broadcast_to_every_token_spreads_clips_and_positions_alike():
    torch.manual_seed(0)
    code = torch.randn(B, 1, D).expand(B, N, D)                          # every token of a clip: one vector
    out = spreads(FixedTokens(code), batches())
    assert out["clip_spread"] > 0.5
    # equal but for the degrees of freedom: B - 1 over clips, B * N - 1 over the position-centred tokens
    dof = ((B - 1 / N) / (B - 1)) ** 0.5
    assert out["position_spread"] == pytest.approx(out["clip_spread"] / dof, rel=1e-3)
    assert out["clip_spread"] == pytest.approx(out["token_spread"], rel=0.15)


def test_independent_tokens_spread_clips_less_than_tokens():
    torch.manual_seed(0)
    out = spreads(FixedTokens(torch.randn(B, N, D)), batches())
    # a clip's mean over N independent tokens shrinks its spread by about sqrt(N)
    assert out["clip_spread"] < out["token_spread"] / 2
    assert out["position_spread"] == pytest.approx(out["token_spread"], rel=0.2)


def test_the_scale_of_the_tokens_does_not_move_the_spreads():
    torch.manual_seed(1)
    tokens = torch.randn(B, N, D)
    small, large = spreads(FixedTokens(tokens), batches()), spreads(FixedTokens(100 * tokens), batches())
    assert small == pytest.approx(large, rel=1e-3)
