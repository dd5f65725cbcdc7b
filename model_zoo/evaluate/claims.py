"""The seed's claims (the EchoJEPA preprint's, DESIGN.md) checked on one results.json, JEPA against MAE
(model_zoo.evaluate.table renders them).

An auditor's first question of the benchmark table is whether the published direction reproduces here.
Each claim gets the preprint's figure, ours, a verdict, and whether our difference exceeds its spread
(a difference smaller than the spread is not a result): for a gap between two models the spread is
sqrt(std_a^2 + std_b^2) of their probe-seed stds; for a threshold, the model's own std. A JEPA whose
clean probe barely leaves the floor (R2 under FLOOR_R2) cannot lose much under degradation, so its
degradation verdict says so instead of counting as robustness; a pediatric lead by a JEPA no better than
the train-mean constant on those clips is flagged the same way. An MAE at the floor is no yardstick either:
a clean gap over it is not counted as met (an untrained encoder would clear it too), and its pediatric
figure is flagged as where its near-constant prediction sits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from model_zoo.evaluate.format import plus_minus

CLEAN_GAP_PCT = 27.0          # EchoJEPA-L 5.97 vs EchoMAE-L 8.15 (Toronto): 26.7%, the goal rounded up
DEGRADATION_PCT = 2.3         # EchoJEPA-G under degradation
FLOOR_R2 = 0.1                # a clean probe explaining less than this of EF variance sits at the floor


@dataclass(frozen=True)
class Claim:
    claim: str
    preprint: str
    ours: str
    met: bool
    beyond_spread: bool       # our numbers lie further from the claim's threshold than their spread
    note: str = ""

    @property
    def verdict(self) -> str:
        """'met' or 'not met' only where the numbers are further from the claim's threshold than their spread;
        inside it a verdict is no result either way: inconclusive, with what the means say."""
        word = "met" if self.met else "not met"
        return word if self.beyond_spread else f"inconclusive: {word} by the means, inside the spread"


def _gap_spread(a: dict, b: dict) -> float:
    return math.hypot(a.get("mae_std", 0.0), b.get("mae_std", 0.0))


def check_claims(results: dict, jepa: str, mae: str) -> list[Claim]:
    """The three claims for one JEPA-family and one MAE-family model of `results`, then whether the JEPA
    beats the untrained encoder and raw pixels on clean EF (pretraining's own test) where those rows are."""
    models = results["models"]
    j, m = models[jepa], models[mae]
    if j["family"] != "jepa" or m["family"] != "mae":
        raise ValueError(f"check_claims compares a jepa-family model with a mae-family one; got {jepa} "
                         f"({j['family']}) and {mae} ({m['family']})")
    jc, mc = j["clean"], m["clean"]
    gap = 100.0 * (mc["mae"] - jc["mae"]) / mc["mae"]
    mae_floor = mc.get("r2", 1.0) < FLOOR_R2
    mae_floor_note = (f"the MAE reads almost no EF (clean R2 {mc['r2']:.3f}): it sits at the floor, so this "
                      "compares with no pixel model") if mae_floor else ""
    claims = [Claim(f"clean EF MAE ≥ {CLEAN_GAP_PCT:g}% below the MAE's",
                    "26.7% (EchoJEPA-L 5.97 vs EchoMAE-L 8.15)",
                    f"{gap:.1f}% ({plus_minus(jc['mae'], jc.get('mae_std'))} vs {plus_minus(mc['mae'], mc.get('mae_std'))})",
                    met=gap >= CLEAN_GAP_PCT and not mae_floor,
                    # how far the JEPA's lead is from the lead the claim needs, against the two rows' spread
                    beyond_spread=abs((mc["mae"] - jc["mae"]) - CLEAN_GAP_PCT / 100 * mc["mae"]) > _gap_spread(jc, mc),
                    note=mae_floor_note)]

    deg, deg_std = j["mean_rel_degradation_pct"], j.get("mean_rel_degradation_pct_std")
    floor = jc["r2"] < FLOOR_R2
    claims.append(Claim(f"mean degradation < {DEGRADATION_PCT:g}%",
                        "+2.3% (EchoJEPA-G)",
                        f"{plus_minus(deg, deg_std, 1, signed=True)}% (the MAE {m['mean_rel_degradation_pct']:+.1f}%)",
                        met=deg < DEGRADATION_PCT and not floor, beyond_spread=abs(deg - DEGRADATION_PCT) > (deg_std or 0.0),
                        note=(f"clean R2 {jc['r2']:.3f}: the probe starts at the floor, so a small loss "
                              "is no robustness") if floor else ""))

    jp, mp = j["pediatric"], m["pediatric"]
    floor_ped = results.get("train_mean_constant", {}).get("pediatric", {}).get("mae")
    claims.append(Claim("ahead of the MAE on pediatric clips",
                        "4.32 (EchoJEPA-G; EchoPrime 5.10)",
                        f"{plus_minus(jp['mae'], jp.get('mae_std'))} vs "
                        f"{plus_minus(mp['mae'], mp.get('mae_std'))}",
                        met=jp["mae"] < mp["mae"], beyond_spread=abs(mp["mae"] - jp["mae"]) > _gap_spread(jp, mp),
                        note="; ".join(filter(None, [
                            (f"the JEPA is no better than the floor ({floor_ped:.2f}, every clip predicted as the "
                             "adult train mean)") if floor_ped is not None and jp["mae"] >= floor_ped else "",
                            mae_floor_note]))))

    baselines = {n: b for n, b in models.items() if b["family"] in ("random", "pixels")}
    if baselines:
        best_name = min(baselines, key=lambda n: baselines[n]["clean"]["mae"])
        bc = baselines[best_name]["clean"]
        claims.append(Claim("(ours) clean EF ahead of untrained and pixels",
                            "not reported", f"{plus_minus(jc['mae'], jc.get('mae_std'))} vs {best_name} "
                            f"{plus_minus(bc['mae'], bc.get('mae_std'))}", met=jc["mae"] < bc["mae"],
                            beyond_spread=abs(bc["mae"] - jc["mae"]) > _gap_spread(jc, bc)))
    return claims


def claim_pairs(results: dict) -> list[tuple[str, str]]:
    """Every (JEPA-family, MAE-family) pair of models in results, in table order."""
    names = results["models"]
    return [(j, m) for j in names if names[j]["family"] == "jepa" for m in names if names[m]["family"] == "mae"]

