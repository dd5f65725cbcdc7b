"""EchoLens entry point.

    python app.py                              serve the app on http://127.0.0.1:7860
    python app.py models [--models DIR]        list the models found
    python app.py analyze CLIP --out DIR       headless analysis of one clip (report.json, maps, HTML)
    python app.py audit DIR --out DIR          headless audit of a folder of clips (CSV, HTML)
"""
from __future__ import annotations

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
