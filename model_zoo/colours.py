"""One colour per model family in every plot the project draws: JEPA blue, MAE red, the baselines grey
and black (the recipes plot, the degradation lab, the audit, the latent-vs-pixel figures)."""

FAMILY_COLOURS = {"jepa": "#1f77b4", "mae": "#d62728", "random": "#7f7f7f", "pixels": "#000000"}
