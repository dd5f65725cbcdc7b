"""The evidence: EF probes on frozen encoders under clean, degraded and pediatric phantom clips, against
a random encoder and raw pixels, and the table the app shows.

    python -m model_zoo.evaluate --out DIR [--quick] [--models jepa_small,mae_small] [--ship]

    from model_zoo.evaluate import evaluate, write_results, ship
    ev = evaluate(["jepa-small", "mae-small"])      # ev.results is results.json
"""
from model_zoo.evaluate.protocol import DEFAULT_SIZES, QUICK_SIZES, Sizes
from model_zoo.evaluate.run import Evaluation, evaluate
from model_zoo.evaluate.ship import ship, write_results

__all__ = ["DEFAULT_SIZES", "QUICK_SIZES", "Evaluation", "Sizes", "evaluate", "ship", "write_results"]
