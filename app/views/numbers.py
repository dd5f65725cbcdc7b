"""Numbers typed into the page's boxes, checked before use, so a value out of range is named with its box
instead of failing deep inside numpy or in Gradio's JSON output (which cannot hold integers past 64 bits)."""
from __future__ import annotations

MAX_SEED = 2**32 - 1


def seed_from(value, box: str) -> int:
    """A seed from the box labelled `box`: a whole number from 0 to MAX_SEED (empty: 0)."""
    if value is None or value == "":
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not (number.is_integer() and 0 <= number <= MAX_SEED):
        raise ValueError(f"{box} must be a whole number from 0 to {MAX_SEED:,}; got {value}.")
    return int(number)
