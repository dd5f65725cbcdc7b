"""The example clips the app offers on first launch, rendered from the phantom and shipped in assets/.

    python -m echo.examples          # (re)writes assets/examples/<name>.npz, .mp4 and .png (a frame strip)

Each NPZ carries the frames and the full ground truth (read back by echo.readers.read_clip);
the MP4 is the same clip for upload demos and browsers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from echo.clip import Clip, ClipError
from echo.degrade import compose
from echo.phantom import render_clip
from echo.readers import read_clip
from echo.writers import write_frame_strip, write_mp4, write_npz

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
FRAMES, FPS = 80, 50.0
# name: (description, seed, population, phantom overrides, degradations)
EXAMPLES: dict[str, tuple[str, int, str, dict, list]] = {
    "adult_normal": ("Adult, normal EF", 101, "adult", {"ef": 62.0, "hr_bpm": 68.0}, []),
    "adult_reduced_ef": ("Adult, reduced EF", 102, "adult", {"ef": 28.0, "hr_bpm": 80.0}, []),
    "pediatric": ("Child, normal EF", 103, "pediatric", {"ef": 64.0}, []),
    "degraded": ("Adult, normal EF, shadowed and attenuated", 101, "adult", {"ef": 62.0, "hr_bpm": 68.0},
                 [("shadow", 2 / 3), ("depth_attenuation", 1.5 / 2.15)]),
    "scanner_export": ("Adult, scanner export with text and ECG outside the fan", 104, "adult",
                       {"ef": 50.0, "overlay": True, "size": 160}, []),
}


def render_example(name: str) -> Clip:
    _, seed, population, overrides, steps = EXAMPLES[name]
    clip = render_clip(seed, population, n_frames=FRAMES, fps=FPS, **overrides)
    clip = compose(clip, steps, seed=seed) if steps else clip
    clip.meta["example"] = name
    return clip


def load_example(name: str) -> Clip:
    """A shipped example with its ground truth; an unknown name is refused, naming the examples there are."""
    if name not in EXAMPLES:
        raise ClipError(f"Unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}.")
    clip = read_clip(EXAMPLES_DIR / f"{name}.npz")
    clip.meta.update(example=name, description=EXAMPLES[name][0])
    return clip


def main(argv: list[str] | None = None) -> int:
    """Rewrite the shipped examples; it takes no options, so any argument (--help among them) is answered with the
    usage, not taken as a go-ahead to overwrite them."""
    argparse.ArgumentParser(prog="python -m echo.examples", description=f"(Re)write {', '.join(EXAMPLES)} into "
                            f"{EXAMPLES_DIR} from the phantom: NPZ, MP4 and a frame strip each.").parse_args(argv)
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        clip = render_example(name)
        write_npz(EXAMPLES_DIR / f"{name}.npz", clip)
        write_mp4(EXAMPLES_DIR / f"{name}.mp4", clip)
        write_frame_strip(EXAMPLES_DIR / f"{name}.png", clip.frames[:50], n=5)  # one beat at 68-80 bpm
        print(f"{name}: EF {clip.truth.ef:.1f}%, {clip.n_frames} frames at {clip.fps:g} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
