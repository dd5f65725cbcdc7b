"""Pretraining masks: VideoMAE tubes and V-JEPA multi-blocks, their coverage and determinism."""
import pytest
import torch

from model_zoo.masks import as_indices, gather_tokens, multiblock_masks, tube_masks, time_span_masks

GRID = (8, 7, 7)  # the small recipe's 16 frames x 112 px, patch 16, tubelet 2
SPECS = ((8, 0.15), (2, 0.7))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_tube_masks_hide_the_ratio_and_the_same_positions_in_every_time_slot():
    masks = tube_masks(4, GRID, 0.9, gen())
    assert masks.shape == (4, 392) and masks.dtype == torch.bool
    per_slot = masks.view(4, 8, 49)
    assert (per_slot == per_slot[:, :1]).all()                       # a tube spans all time
    assert (per_slot[:, 0].sum(1) == int(0.9 * 49)).all()           # 44 of 49 positions hidden
    assert not torch.equal(per_slot[0, 0], per_slot[1, 0])          # each clip its own mask
    assert torch.equal(masks, tube_masks(4, GRID, 0.9, gen()))       # fixed by the seed
    assert not torch.equal(masks, tube_masks(4, GRID, 0.9, gen(1)))


def test_multiblock_masks_are_disjoint_time_spanning_tubes_with_vjepa_coverage():
    pairs = multiblock_masks(6, GRID, SPECS, (0.75, 1.5), gen())
    assert len(pairs) == 2
    hidden_share = []
    for ctx, tgt in pairs:
        assert ctx.shape[0] == tgt.shape[0] == 6
        for c, t in zip(ctx, tgt):
            assert not set(c.tolist()) & set(t.tolist())              # context never sees a target
            for idx in (c, t):                                        # whole tubes: every time slot
                spatial = idx % 49
                slots = idx // 49
                for s in spatial.unique():
                    assert sorted(slots[spatial == s].tolist()) == list(range(8))
            hidden_share.append(len(t) / 392)
            assert len(c) >= 2 * 8                                    # some context always kept
    short, long_ = hidden_share[:6], hidden_share[6:]
    # V-JEPA: 8 blocks of 15% or 2 of 70%, unions hide a large share (after the batch-minimum cut)
    assert 0.3 < sum(short) / 6 < 0.95 and 0.6 < sum(long_) / 6 < 0.97


def test_multiblock_masks_are_fixed_by_the_seed():
    a = multiblock_masks(3, GRID, SPECS, (0.75, 1.5), gen(5))
    b = multiblock_masks(3, GRID, SPECS, (0.75, 1.5), gen(5))
    c = multiblock_masks(3, GRID, SPECS, (0.75, 1.5), gen(6))
    assert all(torch.equal(x, y) for (x1, x2), (y1, y2) in zip(a, b) for x, y in ((x1, y1), (x2, y2)))
    assert not all(torch.equal(x1, y1) for (x1, _), (y1, _) in zip(a, c))


def test_a_block_has_its_drawn_shape_and_reaches_every_row_and_column():
    """One block a clip (no union blurs its edges): its hidden positions are a bh x bw rectangle with the aspect asked
    (rows / columns), and over many draws its corners reach the grid's last row and column."""
    corners = set()
    for seed in range(60):
        ctx, tgt = multiblock_masks(4, GRID, ((1, 0.15),), (2.0, 2.0), gen(seed))[0]
        for t in tgt:
            rows, cols = (t % 49) // 7, (t % 49) % 7
            assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (4, 2)   # round(sqrt(7 * 2)), sqrt(7 / 2)
            assert len(t) == 8 * 4 * 2
            corners.add((int(rows.max()), int(cols.max())))
    assert (6, 6) in corners and max(r for r, _ in corners) == 6 and max(c for _, c in corners) == 6


def test_as_indices_and_gather_tokens():
    mask = torch.tensor([[True, False, True, False], [False, True, True, False]])
    idx = as_indices(mask, 2)
    assert idx.tolist() == [[0, 2], [1, 2]]
    assert as_indices(torch.tensor([False, True, False, True]), 3).tolist() == [[1, 3]] * 3
    x = torch.arange(2 * 4 * 3).view(2, 4, 3)
    assert torch.equal(gather_tokens(x, idx), torch.stack([x[0, [0, 2]], x[1, [1, 2]]]))


def test_time_span_masks_hide_one_contiguous_span_of_whole_time_slots():
    grid = (8, 3, 4)                                        # T', H', W'
    ctx, tgt = time_span_masks(5, grid, 0.375, torch.Generator().manual_seed(0))
    assert ctx.shape == (5, 5 * 12) and tgt.shape == (5, 3 * 12)
    starts = set()
    for c, t in zip(ctx, tgt):
        assert set(c.tolist()).isdisjoint(t.tolist()) and len(set(c.tolist()) | set(t.tolist())) == 96
        slots = sorted({i // 12 for i in t.tolist()})
        assert slots == list(range(slots[0], slots[0] + 3))  # contiguous, every spatial position
        assert all(sum(1 for i in t.tolist() if i // 12 == s) == 12 for s in slots)
        starts.add(slots[0])
    assert len(starts) > 1                                  # the span moves from clip to clip
    every = {int(t[0]) // 12 for seed in range(40) for t in time_span_masks(5, grid, 0.375, gen(seed))[1]}
    assert every == set(range(8 - 3 + 1))                    # every start, the last span included
    with pytest.raises(ValueError, match="two time slots"):
        time_span_masks(1, (1, 3, 3), 0.5, torch.Generator())


def test_timespan_recipe_adds_a_third_generator_with_its_own_mask_token():
    from model_zoo.jepa import JEPA
    from model_zoo.recipes import get_recipe
    model = JEPA(get_recipe("smoke", jepa_time_span=0.5))
    masks = model.sample_masks(2, torch.Generator().manual_seed(0))
    assert len(masks) == 3 and model.net.config.pred_num_mask_tokens == 3
    x = torch.randn(2, 8, 3, 64, 64)
    loss, _ = model.loss(x, masks)
    loss.backward()
    assert model.net.predictor.embeddings.mask_tokens.grad[2].abs().sum() > 0


def test_one_reader_gives_a_configs_clip_shape_for_both_families_as_object_or_dict():
    """Five modules read (frames, size) from a config, each with its own spelling of the two families' keys."""
    from transformers import VideoMAEConfig, VJEPA2Config

    from model_zoo.masks import clip_shape
    jepa, mae = VJEPA2Config(frames_per_clip=8, crop_size=64), VideoMAEConfig(num_frames=12, image_size=96)
    assert clip_shape(jepa) == clip_shape(jepa.to_dict()) == (8, 64)
    assert clip_shape(mae) == clip_shape(mae.to_dict()) == (12, 96)
    assert clip_shape({"model_type": "videomae", "num_frames": 16, "image_size": [112, 112]}) == (16, 112)
    assert clip_shape({"model_type": "videomae"}) == (None, None)          # a config.json without them: saved_frames' None
