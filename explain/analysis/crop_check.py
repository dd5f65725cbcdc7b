"""How far each probe's EF moves when the clip sits a couple of pixels higher or lower in the model's input.

The fan finder (echo.preprocess.find_sector) could place the box a few pixels differently on a re-encoded copy
of the same clip: compression ringing at the fan's edge flickers like a dim far field. An MJPG re-encode of
the adult_normal example (1.2 grey levels from the original on average) moved the box from (2, 0, 89, 112)
to (0, 0, 95, 112), which moves the heart 2 px up in the padded square the models see, and the shipped
JEPA's EF about 15 points; that box on the original pixels gave 47.5% against 62.2% with the probe then shipped, and
gives 52.1% against 62.0% with today's (tests/test_crop_check.py): the crop, not the pixels. A lossy-coded clip's fan now drops the ringing beyond its
apex and far end (that re-encode keeps (2, 0, 89, 112)), but any crop a few pixels off, at the sides or from
another cause, moves the EF as much. The shipped probes learned from phantom clips that all
sit alike, and read position. So the page gives each EF beside the EFs of the same input shifted SHIFT_SHARE
of its side up and down (black filling the gap), and warns when they differ by more than MOVES_POINTS: an EF
that hangs on the crop is seen to.
"""
from __future__ import annotations

import torch

from explain.analysis.budget import MAX_EXTRA_SECONDS, cpu_seconds
from explain.analysis.pair import LoadedModel, embed
from explain.attribution.baseline import black_like

SHIFT_SHARE = 0.02         # of the input's side: 2 px at 112 px, what the re-encode above did
MOVES_POINTS = 5.0         # an EF that moves more than this with the shift is warned about


def shifted(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """x (B, T, C, S, S) moved `pixels` down (negative: up), the gap filled with black. Same shape."""
    if pixels == 0:
        return x
    out = black_like(x)
    if pixels > 0:
        out[..., pixels:, :] = x[..., :-pixels, :]
    else:
        out[..., :pixels, :] = x[..., -pixels:, :]
    return out


def shift_pixels(size: int) -> int:
    """The shift for an input of `size` px: SHIFT_SHARE of it, at least one pixel."""
    return max(1, round(SHIFT_SHARE * size))


def crop_efs(m: LoadedModel, x: torch.Tensor) -> dict | None:
    """{'pixels': k, 'ef': [input shifted k px up, down], 'ef_beat': [...]} for the probes the model has, x
    (1, T, C, S, S) its input; None for a model without an EF probe."""
    if m.probe is None and m.beat_probe is None:
        return None
    k = shift_pixels(x.shape[-1])
    out: dict = {"pixels": k}
    if (seconds := cpu_seconds(m, 2)) > MAX_EXTRA_SECONDS:
        return {**out, "skipped": f"two more passes would take about {seconds:.0f} s on this CPU"}
    for pixels in (-k, k):
        _, ef, ef_beat = embed(m, shifted(x, pixels))
        for key, value in (("ef", ef), ("ef_beat", ef_beat)):
            if value is not None:
                out.setdefault(key, []).append(round(value, 2))
    return out


def moved(ef: float | None, efs: list[float] | None) -> float:
    """How far, at most, an EF moves with the shift (0 without a check)."""
    return 0.0 if ef is None or not efs else max(abs(v - ef) for v in efs)


def largest_move(ef: float | None, ef_beat: float | None, crop: dict) -> float:
    """How far, at most, either probe's EF moves in a crop check (0 for one skipped): past MOVES_POINTS, warned."""
    return max(moved(ef, crop.get("ef")), moved(ef_beat, crop.get("ef_beat")))


def crop_words(ef: float | None, ef_beat: float | None, crop: dict) -> str:
    """The crop check in words, as the page and report.html give it: each probe's EF with the clip a few pixels
    higher and lower, and a warning when one moves more than MOVES_POINTS with it."""
    if crop.get("skipped"):
        return f"Crop check skipped: {crop['skipped']}."
    parts = [f"{name} {efs[0]:.1f}% / {efs[1]:.1f}%" for name, efs in (("EF", crop.get("ef")),
                                                                      ("beat view", crop.get("ef_beat"))) if efs]
    k = int(crop["pixels"])
    words = f"Crop check: with the clip {k} px higher / lower in the model's input, {', '.join(parts)}."
    moves = {name: moved(e, crop.get(key)) for name, e, key in (("attentive probe's", ef, "ef"),
                                                                  ("beat view's", ef_beat, "ef_beat"))
             if e is not None and crop.get(key)}
    over = [n for n, m in moves.items() if m > MOVES_POINTS]
    if over:             # each probe named: the warning had read as the best estimate's when the other one moved
        said = " and ".join(f"the {n} EF moves up to {moves[n]:.1f} points" for n in over)
        rest = "".join(f" (the {n} {moves[n]:.1f})" for n in moves if n not in over)
        words = (f"⚠️ {words} {said[0].upper()}{said[1:]} with a crop {k} px off{rest}, and a re-encoded copy of the "
                 "clip can get a crop further off still (an MJPG copy of adult_normal: its box 8 px taller): read "
                 f"{'that EF' if len(over) == 1 else 'both EFs'} no closer than that.")
    return words


def main() -> int:
    """`python -m explain.analysis.crop_check`: the shipped pair's crop check on each shipped example, a table."""
    from echo.examples import EXAMPLES, load_example
    from explain.analysis.pair import load_pair
    from explain.analysis.window import model_view
    torch.set_num_threads(1)
    pair = load_pair(device="cpu")
    print("| example | model | EF | up / down | moves | beat view | up / down | moves |\n|---|---|---|---|---|---|---|---|")
    for name in EXAMPLES:
        clip = load_example(name)
        for m in pair.values():
            x = model_view(clip, *m.input_shape).x
            _, ef, ef_beat = embed(m, x)
            check = crop_efs(m, x)
            row = [f"{ef:.1f}", " / ".join(f"{v:.1f}" for v in check["ef"]), f"{moved(ef, check['ef']):.1f}",
                   f"{ef_beat:.1f}", " / ".join(f"{v:.1f}" for v in check["ef_beat"]), f"{moved(ef_beat, check['ef_beat']):.1f}"]
            print(f"| {name} | {m.name} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
