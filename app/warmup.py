"""Work done once at start-up off the request path: load the shipped pair and compile UMAP's numba
code (about 10-20 s), so the first click does not pay for it."""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("echolens")


def _warm() -> None:
    try:
        from explain.analysis.pair import load_pair
        from explain.trajectory.projection import warm_up_umap
        load_pair()
        warm_up_umap()
    except Exception:                                       # noqa: BLE001 - the page reports load errors itself
        log.exception("warm-up failed")


def warm_up_in_background() -> threading.Thread:
    t = threading.Thread(target=_warm, name="echolens-warmup", daemon=True)
    t.start()
    return t
