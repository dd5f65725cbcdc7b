"""Which phantom hearts (clip seeds) the shipped models and their evaluation already use, so a clip rendered
from one is not taken for an unseen heart: pretraining pools start at PRETRAIN_FROM (model_zoo.recipes), the
evaluation's probe train / val / test and pediatric clips at SPLIT_SEEDS (model_zoo.features). The confirmation
splits (`python -m model_zoo.evaluate --confirm`) hold adult and pediatric hearts no other run reads: every recipe is
compared on the test split, so a recipe picked by those comparisons is read once more on hearts none of them saw."""
from __future__ import annotations

PRETRAIN_FROM = 1_000_000
SPLIT_SEEDS = {"train": 2_000_000, "val": 3_000_000, "test": 4_000_000, "pediatric": 5_000_000,
               "confirm": 6_000_000, "confirm_pediatric": 7_000_000}
SPAN = 1_000_000           # seeds each use may take from its start


def split_population(split: str) -> str:
    """The population a split's hearts are drawn from: 'pediatric' for the pediatric splits, else 'adult'."""
    return "pediatric" if split.endswith("pediatric") else "adult"


def used_for(seed: int, population: str = "adult") -> str | None:
    """What the models' training or evaluation uses a clip seed of this population for ('pretraining', 'the EF
    probes' train split'...), None for a heart none of them uses (a seed draws another heart in another population)."""
    names = {"pediatric": "the evaluation's pediatric test clips", "confirm": "the evaluation's confirmation clips",
             "confirm_pediatric": "the evaluation's pediatric confirmation clips"}
    uses = {"pretraining": (PRETRAIN_FROM, "adult"),
            **{names.get(split, f"the EF probes' {split} split"): (start, split_population(split))
               for split, start in SPLIT_SEEDS.items()}}
    return next((use for use, (start, kind) in uses.items() if kind == population and start <= seed < start + SPAN), None)
