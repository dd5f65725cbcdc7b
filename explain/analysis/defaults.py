"""The two slots of the app and the models that fill them out of the box; no heavy imports, so the command
line can show its defaults without loading torch."""

ROLES = ("jepa", "mae")
DEFAULT_MODELS = {"jepa": "jepa-small", "mae": "mae-small"}
