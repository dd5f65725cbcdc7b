"""View 6: audit a set of uploads or a folder: the per-clip table, the summary, the predicted-vs-true
plot, and CSV + standalone HTML downloads (written to the app's media folder)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import shutil

import plotly.graph_objects as go

from app.session import media_path
from echo.echonet import FILELIST, VIDEOS
from explain.analysis.audit import audit, scatter_figure, table_columns
from explain.analysis.ood import flag_rate_words
from explain.analysis.pair import LoadedModel

MAX_UPLOADS = 64


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


def run(files: list[str] | None, folder: str | None, pair: dict[str, LoadedModel], progress=None) -> AuditShown:
    """Audit the uploaded files or the folder (never both at once: which one was meant is not known)."""
    import json
    if files and folder and folder.strip():
        raise ValueError("Both uploaded files and a folder were given; the audit reads one of them: clear the "
                         "files or the folder.")
    if files:
        if len(files) > MAX_UPLOADS:
            raise ValueError(f"{len(files)} files uploaded; audit at most {MAX_UPLOADS} at once, or give a folder.")
        source = echonet_folder([Path(f) for f in files])
    elif folder and folder.strip():
        source = Path(folder.strip())
        if not source.is_dir():
            raise ValueError(f"No folder at '{folder.strip()}'.")
    else:
        raise ValueError("Upload some clips or give a folder to audit.")
    out = media_path("")
    summ = audit(source, pair, out, progress)
    rows = json.loads((out / "audit.json").read_text())["rows"]
    columns = table_columns(rows)
    table = {"headers": columns, "data": [["" if r.get(c) is None else r.get(c) for c in columns] for r in rows]}
    lines = [f"**{summ['clips']} clips**, {summ['unreadable']} unreadable."]
    if summ["note"]:
        lines.append(f"⚠️ {summ['note']}")
    for role in pair:
        s = summ[role]
        mae = "n/a" if s["ef_mae"] is None else f"{s['ef_mae']:.2f}"
        if s.get("ef_mae_beat") is not None:
            mae += f" (beat view {s['ef_mae_beat']:.2f})"
        mae += " over clips with a true EF"
        if summ.get("mixed"):                      # some clips are a child's or degraded: the clean adult ones apart
            clean = "n/a" if s.get("ef_mae_clean_adult") is None else f"{s['ef_mae_clean_adult']:.2f}"
            if s.get("ef_mae_beat_clean_adult") is not None:
                clean += f" (beat view {s['ef_mae_beat_clean_adult']:.2f})"
            n = summ["mixed"]
            mae += (f", {clean} over those not known to be pediatric or degraded ({n} {'clip is' if n == 1 else 'clips are'}; "
                    "the benchmark's pediatric and degraded columns describe those)")
        sens = "n/a" if s["mean_sensitivity"] is None else f"{s['mean_sensitivity']:.2f}"
        focus = "n/a" if s["mean_focus_ratio"] is None else f"{s['mean_focus_ratio']:.2f}"
        ood = ("out-of-distribution check n/a (no reference of phantom embeddings for this model)"
               if s["out_of_distribution"] is None else
               f"{s['out_of_distribution']} {'clip' if s['out_of_distribution'] == 1 else 'clips'} out of distribution"
               + (f"; the check {words}" if (words := flag_rate_words(pair[role].ood.flag_rates)) else ""))
        lines.append(f"- {pair[role].name}: EF MAE {mae}; mean |EF change| under the "
                     f"benchmark degradations {sens}; rollout focus ratio {focus} (mean read-out, clips with anatomy "
                     f"labels); {ood}.")
    figure = scatter_figure(rows, {role: m.name for role, m in pair.items()})
    downloads = [str(out / "audit.csv"), str(out / "audit.html")]
    return AuditShown("\n".join(lines), table, figure, downloads)
