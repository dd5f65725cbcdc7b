"""The command line: serve the app (default), or work headless (models, analyze, audit)."""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from app.error_text import error_text
from echo.outputs import output_argument

HOST, PORT = "127.0.0.1", 7860
SERVE_ONLY = {"host": HOST, "port": PORT, "server_paths": None, "auth_file": None}   # options only serving reads


def port_number(text: str) -> int:
    """argparse type for --port: 1-65535 (socket.bind raises OverflowError, a traceback, outside 0-65535)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number: give one from 1 to 65535") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: give one from 1 to 65535")
    return value


def minutes(text: str) -> float:
    """argparse type for --time-limit: a positive number of minutes (float('nan') or -1 would stop at once)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of minutes") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a time limit: give a positive number of minutes")
    return value


def frame_count(text: str) -> int:
    """argparse type for --frames: a positive whole number (the loader then refuses one that is not whole tubelets)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a frame count: give a whole number such as 8") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a frame count: give a positive whole number such as 8")
    return value


def check_address(host: str, port: int) -> None:
    """Refuse a host that is not an IP address or a name this machine resolves, and an address it cannot
    serve on (port in use, not its own), before anything starts: Gradio calls both 'Cannot find empty port'."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"--host {host} is not an IP address or a name this machine resolves: give an address "
                         "such as 127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn: a port closed a moment ago is free
        try:
            s.bind(address)
        except OSError as e:
            raise OSError(f"cannot serve on {host}:{port} ({e.strerror}): give another --port or --host, "
                          "or stop what uses it") from None


def check_models(folders: list[str] | None) -> None:
    """Refuse a --models folder or file that does not exist, rather than pass over it in silence."""
    missing = [d for d in folders or () if not Path(d).exists()]
    if missing:
        raise FileNotFoundError(f"no such folder or file: {', '.join(missing)}")


def read_auth(path: str) -> list[tuple[str, str]]:
    """--auth-file: one 'user:password' per line (the password may hold ':'; blank lines and '#' comments are
    skipped); a file that names nobody, or a line without both, is refused by its line number."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"--auth-file {path} cannot be read ({e})") from None
    logins = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.strip().partition(":")
        if not (sep and user and password):
            raise ValueError(f"--auth-file {path}, line {number}: write 'user:password'")
        logins.append((user, password))
    if not logins:
        raise ValueError(f"--auth-file {path} names nobody: write one 'user:password' per line")
    return logins


def access(args) -> tuple[list[tuple[str, str]] | None, str]:
    """Who may use the server and which paths its page may read: (the logins of --auth-file or None, the line the
    server prints about its path boxes). A login closes the boxes on 127.0.0.1 too (app.server_paths.configure)."""
    from app.server_paths import configure
    logins = read_auth(args.auth_file) if args.auth_file else None
    return logins, configure(args.host, args.server_paths, logins=bool(logins))


def server_log() -> None:
    """The server's record on stderr, with times: each page event (its name, how long, and what was refused and
    why), warm-up failures and tracebacks (app.errors logs them under 'echolens')."""
    import logging
    log = logging.getLogger("echolens")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def serve(args) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM), then remove the media folder and Gradio's cache folder (the
    uploads, its copies of the media served), which is this process's own (media.gradio_cache_dir).
    The arguments are checked before the warm-up starts, and the process waits for the warm-up before it exits:
    exiting while it loads the models aborts ('terminate called without an active exception', rc 134)."""
    import signal

    from echo.limits import MAX_FILE_BYTES
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # as Ctrl-C from the start: Gradio closes, finally runs
    check_models(args.models)
    check_address(args.host, args.port)
    logins, paths_line = access(args)
    from app.media import gradio_cache_dir, media_dir
    os.environ["GRADIO_TEMP_DIR"] = str(gradio_cache_dir())     # before Gradio is imported (some of it reads it then)
    try:
        from gradio.route_utils import delete_files_created_by_app

        from app.layout import CSS, JS, THEME, build
        from app.warmup import warm_up_in_background
    except KeyboardInterrupt:               # stopped while starting: its folders go at exit (atexit), the code is 0
        return 0
    server_log()
    warm_up, demo = warm_up_in_background(), None
    try:
        import logging                     # the server's record (server_log): on stderr, each line with its time
        for line in (f"EchoLens media folder (removed at exit): {media_dir()}",
                     f"Gradio's uploads and cache (removed at exit): {os.environ['GRADIO_TEMP_DIR']}", paths_line,
                     f"Login required: {len(logins)} user(s) from {args.auth_file}" if logins else
                     "No login (--auth-file FILE asks for one)"):
            logging.getLogger("echolens").info(line)
        demo = build(tuple(args.models or ()))
        demo.launch(server_name=args.host, server_port=args.port, show_error=False, quiet=False,
                    max_file_size=MAX_FILE_BYTES, css=CSS, js=JS, theme=THEME, auth=logins)
    except KeyboardInterrupt:               # stopped while the page was built (Gradio's launch returns on its own)
        pass
    finally:
        if demo is not None:   # Gradio's copies of the uploads (users' clips) and served media: its shutdown left them
            delete_files_created_by_app(demo, age=None)
        _wait_for(warm_up)
    return 0


def _wait_for(warm_up) -> None:
    """Join the warm-up thread before exiting (serve: exiting while it loads the models aborts), saying so, and
    not stopped by another Ctrl-C while it finishes."""
    if warm_up.is_alive():
        print("Waiting for the models' warm-up to finish before exiting...", file=sys.stderr, flush=True)
    while warm_up.is_alive():
        try:
            warm_up.join(0.5)
        except KeyboardInterrupt:
            pass


def models(args) -> int:
    from model_zoo.registry import format_models, list_models
    check_models(args.models)
    found = list_models(args.models or ())
    print(format_models(found))
    for d in args.models or ():                       # a folder that adds nothing is said, not passed over
        where = Path(d).resolve()
        if not any(where == (p := Path(e["path"]).resolve()) or where in p.parents for e in found):
            print(f"note: no model or checkpoint found in {d}")
    return 0


def load_models(args) -> dict:
    """The pair analyze and audit run: --jepa and --mae on --device, the models brought loaded at --frames (as the
    page's 'Frames for large checkpoints'); a shipped model keeps its own frame count, and a note says so."""
    from explain.analysis.pair import is_shipped, load_pair
    pair = load_pair(args.jepa, args.mae, args.device, args.frames)
    for role, m in pair.items():        # a model brought at its saved count runs as saved: no note
        if args.frames and m.frames_override is None and is_shipped(getattr(args, role)):
            print(f"note: {role} ({m.name}) is shipped with EchoLens and keeps its own {m.input_shape[0]} frames: "
                  "--frames applies to the models you bring")
    return pair


def conversion_notes(models: dict, where: str) -> list[str]:
    """One note per converted model (run_record's models: {role: {'name', 'conversion'}}): what its conversion
    assumed, and where the file written says each assumption in full (`where`: 'report.json', 'audit.json'). A
    report made at an assumed 224 px must not read as one made at a size the checkpoint states."""
    from explain.analysis.run_record import conversion_words
    return [f"note: {role} ({m['name']}): {conversion_words(m['conversion'])} ({where}'s run.models.{role}.conversion "
            "says each in full)" for role, m in models.items() if m.get("conversion")]


def analyze(args) -> int:
    from echo.readers import read_clip
    from explain.analysis.best_estimate import disagreement_words
    from explain.analysis.crop_check import MOVES_POINTS, crop_words, largest_move
    from explain.analysis.ood import declared_shift, ood_words
    from explain.analysis.report import analyze as run, ef_words, near_blank_warnings
    clip = read_clip(args.clip, rescale=args.rescale)
    report = run(clip, load_models(args), args.out, quick=args.quick, colours=args.colours)
    print(f"{args.out / 'report.json'}:")
    for role, m in report["models"].items():
        print(f"  {role} ({m['name']}): {ef_words(m, report['ground_truth'])}")
        if m.get("best_estimate"):                     # the line the page's card opens with
            print(f"    {m['best_estimate']['words']}")
    for w in sorted({m["warning"] for m in report["models"].values() if m.get("warning")}):
        print(f"warning: {w}")
    for role, m in report["models"].items():          # the page's card says it whatever holds the estimate back
        disagree = disagreement_words(m["name"], m["ef"], m.get("ef_beat")).removeprefix(f"{m['name']}: ")
        if disagree:
            print(f"warning: {role} ({m['name']}): {disagree}")
    for role, m in report["models"].items():          # an EF its probe also reads with no heart in the clip
        for w in near_blank_warnings(m):
            print(f"warning: {role} ({m['name']}): {w}")
    shift = declared_shift(report["clip"]["population"], report["clip"]["degradation"])
    for role, m in report["models"].items():          # flagged, or a shift the file declares that the score missed
        if m.get("ood") and (m["ood"]["out_of_distribution"] or shift):
            print(f"warning: {role} ({m['name']}): {ood_words(m['ood'], shift)}")
    for role, m in report["models"].items():           # an EF that moves with a crop 2 px off
        crop = m.get("crop_check")
        if crop and largest_move(m["ef"], m.get("ef_beat"), crop) > MOVES_POINTS:
            print(f"warning: {role} ({m['name']}): {crop_words(m['ef'], m.get('ef_beat'), crop).removeprefix('⚠️ ')}")
    for role, m in report["models"].items():
        for method, why in m.get("skipped", {}).items():
            print(f"note: no {method} map for {role} ({m['name']}): {why}")
        for method, why in m.get("unreliable", {}).items():
            print(f"warning: {role} ({m['name']}): {method} map: {why}")
        for why in m.get("skipped_views", {}).values():   # over the CPU budget: what would run it
            print(f"note: {role} ({m['name']}): {why}")
    for line in conversion_notes(report["run"]["models"], "report.json"):    # what a checkpoint did not store
        print(line)
    return 0


def audit(args) -> int:
    from explain.analysis.audit import audit as run, clips_in, not_reached
    out = args.out                                     # checked as it was parsed (output_argument)
    sources = clips_in(Path(args.folder), args.rescale)     # no folder of clips: said before the models load
    pair = load_models(args)
    progress = lambda share, what: print(what, file=sys.stderr, flush=True)          # noqa: E731
    limit = None if args.time_limit is None else 60 * args.time_limit
    summary, _, (headline, model_lines) = run(Path(args.folder), pair, out, progress, time_limit_s=limit,
                                              sources=sources)
    print(f"{out / 'audit.csv'}, {out / 'audit.html'}, {out / 'audit.json'}: {headline}")
    for line in model_lines:
        print(f"  {line}")
    if summary["note"]:
        print(f"warning: {summary['note']}")
    from explain.analysis.run_record import conversion
    for line in conversion_notes({r: {"name": m.name, "conversion": conversion(m)} for r, m in pair.items()},
                                 "audit.json"):
        print(line)
    if summary["unreadable"] == summary["clips"]:          # no clip predicted: a script must not read it as done
        unreached = not_reached(summary)
        print((f"error: no clip in '{args.folder}' could be read" if not unreached else
               f"error: no clip in '{args.folder}' audited could be read, and {unreached} "
               f"{'was' if unreached == 1 else 'were'} not reached (the audit stopped first)")
              + "; audit.csv says why for each", file=sys.stderr)
        return 2
    return 0


def parser() -> argparse.ArgumentParser:
    from explain.analysis.defaults import DEFAULT_MODELS
    from explain.overlay import COLOUR_SCALES, COLOURS, EVEN_SCALES
    ap = argparse.ArgumentParser(prog="python app.py", description="EchoLens: JEPA vs MAE on echo clips")
    ap.add_argument("--host", default=HOST, help="serve on this IP address or host name (0.0.0.0: every network)")
    ap.add_argument("--port", type=port_number, default=PORT, help="serve on this port (1-65535)")
    ap.add_argument("--models", action="append", help="serve: also offer the models in this folder (repeatable)")
    ap.add_argument("--server-paths", metavar="DIR",
                    help="serve: the folder under which paths typed into the page (checkpoints, audit and dataset "
                         "folders) may lie, or 'none' (a folder of that name: ./none) (default: any path on "
                         "127.0.0.1 without --auth-file; none when serving a network or asking for a login)")
    ap.add_argument("--auth-file", metavar="FILE", help="serve: ask for a login, one 'user:password' per line")
    sub = ap.add_subparsers(dest="command")
    m = sub.add_parser("models", help="list the models found (shipped, plus --models folders)")
    m.add_argument("--models", action="append", dest="models", default=argparse.SUPPRESS,   # keeps one given before
                   help="a folder of models or checkpoint files (repeatable)")
    for name, helptext in (("analyze", "analyze one clip"), ("audit", "audit a folder of clips")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("clip" if name == "analyze" else "folder")
        p.add_argument("--out", required=True, type=output_argument,
                       help="output folder (made if missing; an earlier run's files in it are replaced)")
        p.add_argument("--jepa", default=DEFAULT_MODELS["jepa"], help="JEPA model: registry name, folder or checkpoint")
        p.add_argument("--mae", default=DEFAULT_MODELS["mae"], help="MAE model: registry name, folder or checkpoint")
        p.add_argument("--device", help="cuda, mps or cpu (default: the first available)")
        p.add_argument("--rescale", action="store_true",
                       help="stretch files of 16-bit or float pixels to 8 bits (as the page's 'Stretch 16-bit or float "
                            "pixels'), rather than refuse them")
        p.add_argument("--frames", type=frame_count, metavar="N",
                       help="load the models you bring (not the shipped ones) at N input frames, as the app's 'Frames "
                            "for large checkpoints': fewer frames, faster on a CPU (default: each model's own)")
        if name == "analyze":
            p.add_argument("--quick", action="store_true", help="skip the slower views (attributions, speckle test)")
            p.add_argument("--colours", choices=list(COLOUR_SCALES), default=COLOURS,
                           help="the attention overlays' colour scale (colour-blind safe: "
                                f"{' and '.join(EVEN_SCALES)})")
        else:
            p.add_argument("--time-limit", type=minutes, metavar="MINUTES",
                           help="start no clip after this many minutes; the files hold the clips finished (default: none)")
    return ap


def main(argv: list[str]) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    command = {"models": models, "analyze": analyze, "audit": audit}.get(args.command, serve)
    ignored = [f"--{k.replace('_', '-')}" for k, default in SERVE_ONLY.items() if getattr(args, k) != default]
    ignored += ["--models (--jepa and --mae name the pair)"] if command in (analyze, audit) and args.models else []
    if command is not serve and ignored:         # passed over in silence, a --port would read as taken into account
        ap.error(f"{', '.join(ignored)} only applies to serving the app, not to '{args.command}'")
    if command is not models:          # no "Loading weights" bars between a run's lines or in a server's log
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
    try:
        return command(args)
    except KeyboardInterrupt:                                   # Ctrl-C: an earlier report in --out stays whole
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                  # the reader of our output left (| head): the files are written already
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit's flush does not fail again
        return 141
    except (ValueError, KeyError, OSError) as e:               # ClipError is a ValueError
        print(f"error: {error_text(e)}", file=sys.stderr)
        return 2
    except RuntimeError as e:                                   # torch or FFmpeg refusing the input
        print(f"error ({type(e).__name__}): {e}", file=sys.stderr)
        return 1
