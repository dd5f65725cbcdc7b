"""The evaluation protocol's fixed choices: conditions, clip counts, and what each part means.

Default clip counts, from per-clip costs measured as CPU time (time.process_time, 1 torch thread,
the shipped "small" architecture, 16 frames x 112 px; CPU time, since two pretraining runs shared
the 2 cores and made wall time meaningless):
  render 0.051 s; degrade + to_model_input 0.011-0.013 s (speckle 0.036 s);
  encoder forward at batch 16: JEPA 0.038 s, MAE 0.028 s, random (JEPA architecture) 0.035 s,
  pixels 0.001 s; so one rendered clip through every encoder under one condition: ~0.113 s.
  Attentive probe: 0.50 s an epoch for 1,000 + 250 clips of 392 x 192 tokens, ~50 epochs with
  early stopping: ~25 s a probe, x 3 seeds x 3 encoders = 225 s; pixel probes 0.13 s an epoch,
  up to 100 epochs, x 3 = 39 s; ridge on the 12,544 pooled pixels 9 s: probes ~275 s.
  Train + val, 1,000 + 250 clips: 1,250 x (0.051 + 0.113) = 205 s.
  Test, 500 adult clips rendered once, 15 conditions (clean + 14): 500 x (0.051 + 15 x 0.113 +
  0.024 speckle) = 885 s.
  Pediatric, 500 clips: 500 x 0.164 = 82 s.
  Total ~1,450 s = 24 min on one core; with 2 threads the encoders run ~1.7x faster (the
  pretraining recipe's measurement), ~17 min. So the issue's 500 test clips per condition fit in
  30 minutes, and every condition gets them. Measured: the default run on jepa-small + mae-small
  took 784 s with 2 threads before the beat view (wall_s in model_zoo/results.json holds the latest run's).
Quick (--quick): 200 + 50 train/val, 50 clips per condition: 41 + ~55 + 89 + 8 s, ~3 min on one core.
The beat view (2026-12-03) adds 3 attentive probes per encoder on (N, 2D) inputs. Measured on the shipped
pair alone at two threads: 1,659 s (features 160, probes 775, conditions 723), inside 30 minutes with
little room (794 s before the view); at one thread beside a training run 3,549 s.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from echo.degrade import BENCHMARK_CONDITIONS, CONDITIONS
from echo.phantom.seeds import PRETRAIN_FROM, SPLIT_SEEDS

ADULT_CONDITIONS = ("clean", *CONDITIONS)            # every one on the same test clips
# The held-out splits a run reports on: (adult clips every condition degrades, pediatric clips). 'test' is what
# every recipe is compared on; 'confirm' (--confirm) holds hearts no other run reads (echo.phantom.seeds), so a
# recipe chosen by the test comparisons is read once on hearts that played no part in choosing it.
HELD_OUT = {"test": ("test", "pediatric"), "confirm": ("confirm", "confirm_pediatric")}
PROBE_SEEDS = 3           # attentive probes per model in the full protocol (seed, seed + 1, ...)
OTHER_CONDITIONS = tuple(c for c in CONDITIONS if c not in BENCHMARK_CONDITIONS)


def held_out_splits(results: dict) -> tuple[str, str]:
    """(adult split, pediatric split) a results.json reports on (files written before --confirm: the test split's)."""
    return HELD_OUT[results.get("held_out", "test")]


def on_test_split(results: dict) -> bool:
    """Whether a results.json reports on the test split every recipe is compared on (not a --confirm run)."""
    return held_out_splits(results)[0] == "test"


@dataclass(frozen=True)
class Sizes:
    """Clips per split; `test` clips serve every adult condition."""
    train: int
    val: int
    test: int
    pediatric: int

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SIZES = Sizes(train=1000, val=250, test=500, pediatric=500)
QUICK_SIZES = Sizes(train=200, val=50, test=50, pediatric=50)
CHECK_CLIPS = 32          # clean test clips whose shipped-probe predictions go into probe.json


def protocol_card(frames: int, size: int, probe_seeds: list[int], training: dict, held_out: str = "test") -> dict:
    """What was measured and how, for results.json and model cards; held_out: the splits reported on (HELD_OUT)."""
    adult, child = HELD_OUT[held_out]
    return {
        "clips": f"phantom, model_zoo.data.render_beat: one heartbeat in {frames} frames, {size} px; "
                 "echo.preprocess.to_model_input (3 channels, ImageNet-normalised, sector crop)",
        "seeds": {"pretraining": f"{PRETRAIN_FROM:,} + i", "train": f"{SPLIT_SEEDS['train']:,} + i",
                  "val": f"{SPLIT_SEEDS['val']:,} + i", "test": f"{SPLIT_SEEDS[adult]:,} + i",
                  "pediatric": f"{SPLIT_SEEDS[child]:,} + i (population 'pediatric')"},
        "frames": frames, "size": size,
        "degradation": "echo.degrade.apply_condition(clip, condition, seed=clip seed) inside the clean "
                       "clip's sector crop (echo.preprocess.crop_to_sector), then preprocessing without "
                       "looking for the fan again; every condition uses the same test clips (paired)",
        "benchmark_conditions": list(BENCHMARK_CONDITIONS), "other_conditions": list(OTHER_CONDITIONS),
        "probe": "attentive: one learned query, multi-head cross-attention over layer-normed tokens, "
                 "residual MLP, linear head (V-JEPA AttentivePooler, one block); EF z-scored with the "
                 "train split's mean and std; trained on adult clips only (pediatric is zero-shot)",
        "probe_training": training, "probe_seeds": probe_seeds,
        "selection": "epoch with the lowest val MAE (early stopping); shipped probe: the seed with the lowest val MAE",
        "beat_probe": "the attentive probe, trained and selected alike, given each token beside |its deviation "
                      "from its place's mean over the time slots| (model_zoo.probe_inputs.beat_features), "
                      "standardised per dimension with the train split's statistics; declared 2026-12-03, "
                      "after val-only diagnostics, before its first test read; not the issue's probe",
        "linear_probe": "ridge on standardised mean-pooled tokens (pixels: the whole pooled clip), "
                        "penalty chosen on val MAE; deterministic, so one fit",
        "random": "same architecture as the first JEPA evaluated (else the first model), transformers' "
                  "random init, the encoder seeded with the run seed (its draw does not depend on the "
                  "predictor's or decoder's size)",
        "pixels": "grey clip pooled 4x in space; tokens: 2 frames x 4 x 4 pooled pixels + (t, y, x, depth) "
                  "position features",
        "spread": "mean and sample std (ddof 1) over probe seeds",
        "mean_rel_degradation_pct": "mean over the benchmark conditions of 100 (MAE_cond - MAE_clean) / "
                                    "MAE_clean, from the reported (seed-mean) MAEs",
    }
