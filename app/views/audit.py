"""View 6: audit a set of uploads or a folder: the per-clip table, the summary, the predicted-vs-true
plot, and CSV, standalone HTML and JSON downloads (written to the app's media folder; the JSON keeps the summary,
the run's record and, for an audit stopped at its time limit, that it was)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import shutil

import plotly.graph_objects as go

from app.media import keep_upload, media_path
from app.server_paths import server_path
from echo.echonet import FILELIST, VIDEOS
from explain.analysis.audit import COLUMNS, audit, scatter_figure, table_columns
from explain.analysis.pair import LoadedModel
from explain.analysis.skipped_views import Rerun

MAX_UPLOADS = 64
TIME_LIMIT_S = 600.0      # an audit on the page holds the one model slot every user shares: it stops after this


@dataclass
class AuditShown:
    summary_md: str
    table: dict                 # {'headers': [...], 'data': [[...], ...]} for gr.Dataframe
    figure: go.Figure
    downloads: list[str]


def echonet_folder(files: list[Path]) -> Path | list[Path]:
    """Uploads that include FileList.csv (and VolumeTracings.csv) are laid out as an EchoNet folder, so
    their EF and tracings come along; other uploads stay a list of files."""
    if not any(f.name == FILELIST for f in files):
        return files
    root = media_path("")
    (root / VIDEOS).mkdir(parents=True)
    for f in files:
        shutil.copy(f, root / (f.name if f.suffix.lower() == ".csv" else f"{VIDEOS}/{f.name}"))
    return root


# a view left out for a model too slow on the CPU: what the page's user can do (the command line's flags are not theirs)
PAGE_RERUN = Rerun("audit", "'Frames for large checkpoints' at {n}", "on a server with a GPU, where no limit applies")


def run(files: list[str] | None, folder: str | None, pair: dict[str, LoadedModel], progress=None) -> AuditShown:
    """Audit the uploaded files or the folder (never both at once: which one was meant is not known)."""
    if files and folder and folder.strip():
        raise ValueError("Both uploaded files and a folder were given; the audit reads one of them: clear the "
                         "files or the folder.")
    if files:
        if len(files) > MAX_UPLOADS:
            raise ValueError(f"{len(files)} files uploaded; audit at most {MAX_UPLOADS} at once, or give a folder.")
        for f in files:                            # in this session's box: another's refusal of the same bytes
            keep_upload(f)                         # must not remove them (app.media.discard_upload)
        source = echonet_folder([Path(f) for f in files])
    elif folder and folder.strip():
        source = server_path(folder, "The audit's folder")   # audit.clips_in names a missing folder or a file
    else:
        raise ValueError("Upload some clips or give a folder to audit.")
    out = media_path("")
    summ, rows, (headline, model_lines) = audit(source, pair, out, progress, time_limit_s=TIME_LIMIT_S,
                                                command="the EchoLens app's audit tab", rerun=PAGE_RERUN)
    columns = table_columns(rows)
    table = {"headers": columns, "data": [["" if r.get(c) is None else r.get(c) for c in columns] for r in rows]}
    columns_as_code = lambda text: re.sub(r"(\*_\w+)", r"`\1`", text)      # noqa: E731 ('*_x ... *_y' is emphasis)
    if summ["time_limit_s"]:                 # the page's limit, which the command line does not have
        headline += " The command line reads them all: `python app.py audit FOLDER --out DIR`."
    paragraphs = [headline, *([f"⚠️ {columns_as_code(summ['note'])}"] if summ["note"] else []),
                  "\n".join(f"- {line}" for line in model_lines), columns_as_code(COLUMNS)]
    figure = scatter_figure(rows, {role: m.name for role, m in pair.items()})
    downloads = [str(out / "audit.csv"), str(out / "audit.html"), str(out / "audit.json")]
    return AuditShown("\n\n".join(paragraphs), table, figure, downloads)
