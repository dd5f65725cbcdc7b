"""Which phantom hearts (clip seeds) the shipped models and their evaluation already use, so a clip rendered
from one is not taken for an unseen heart: pretraining pools start at PRETRAIN_FROM (model_zoo.recipes), the
evaluation's probe train / val / test and pediatric clips at SPLIT_SEEDS (model_zoo.features)."""
from __future__ import annotations

PRETRAIN_FROM = 1_000_000
SPLIT_SEEDS = {"train": 2_000_000, "val": 3_000_000, "test": 4_000_000, "pediatric": 5_000_000}
SPAN = 1_000_000           # seeds each use may take from its start


def used_for(seed: int) -> str | None:
    """What the models' training or evaluation uses a clip seed for ('pretraining', 'the probes' train split'...),
    None for a seed none of them uses."""
    if PRETRAIN_FROM <= seed < PRETRAIN_FROM + SPAN:
        return "pretraining"
    for split, start in SPLIT_SEEDS.items():
        if start <= seed < start + SPAN:
            return "the evaluation's pediatric test clips" if split == "pediatric" else f"the EF probes' {split} split"
    return None
