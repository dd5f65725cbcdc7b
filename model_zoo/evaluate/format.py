"""How every table, card and claim writes a mean and its spread over probe seeds: '8.13 ± 0.71'."""
from __future__ import annotations


def plus_minus(value: float, std: float | None = None, digits: int = 2, signed: bool = False) -> str:
    """'8.13 ± 0.71'; signed: '+17.0 ± 3.6'; the value alone where no spread was recorded (std None)."""
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"
