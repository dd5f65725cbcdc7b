"""Which phantom hearts (clip seeds) the shipped models and their evaluation already use, so a clip rendered
from one is not taken for an unseen heart: pretraining pools start at PRETRAIN_FROM (model_zoo.recipes), the
evaluation's probe train / val / test and pediatric clips at SPLIT_SEEDS (model_zoo.features)."""
from __future__ import annotations

PRETRAIN_FROM = 1_000_000
SPLIT_SEEDS = {"train": 2_000_000, "val": 3_000_000, "test": 4_000_000, "pediatric": 5_000_000}
SPAN = 1_000_000           # seeds each use may take from its start


def used_for(seed: int, population: str = "adult") -> str | None:
    """What the models' training or evaluation uses a clip seed of this population for ('pretraining', 'the EF
    probes' train split'...), None for a heart none of them uses (a seed draws another heart in another population)."""
    uses = {"pretraining": (PRETRAIN_FROM, "adult"),
            **{f"the EF probes' {split} split": (start, "adult") for split, start in SPLIT_SEEDS.items() if split != "pediatric"},
            "the evaluation's pediatric test clips": (SPLIT_SEEDS["pediatric"], "pediatric")}
    return next((use for use, (start, kind) in uses.items() if kind == population and start <= seed < start + SPAN), None)
