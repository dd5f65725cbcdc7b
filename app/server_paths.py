"""Paths on the server that the page's boxes may read: the two checkpoint paths typed in, the audit's folder, the
dataset view's folder. Served on this machine alone (a loopback --host, the default, without --auth-file) any path
the account running the app can read; served to a network or asking for a login, none unless --server-paths DIR
names the folder they may lie under (or 'none', to close them on this machine too): anyone who reaches the page
could otherwise read the server's folders through these boxes, and tell from the messages whether a path exists
(an operations review did both from another machine). A refused path gets the same words whether it exists or
not. The headless commands (analyze, audit) read what their own user names, unrestricted.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Policy:
    open: bool = True              # any path (this machine alone)
    root: Path | None = None       # else only paths under this folder (resolved); None: no path at all


_policy = Policy()                 # the app built without app.cli (tests, notebooks): as on this machine alone


def is_loopback(host: str) -> bool:
    """Whether --host serves this machine alone (127.0.0.1, ::1, localhost)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def configure(host: str, root: str | None, logins: bool = False) -> str:
    """Set the policy for a server on `host` with --server-paths `root` (None: not given; 'none': no path at all),
    asking for a login or not; returns the line the server prints about it. Any path is read only on a loopback
    host without logins: behind a reverse proxy (which forwards to 127.0.0.1) a login means remote users, so it
    closes the boxes too. A root that is not a folder is refused (ValueError)."""
    global _policy
    if root is not None and root.strip().lower() == "none":
        _policy = Policy(open=False, root=None)
        return "Paths typed into the page are refused (--server-paths none); uploads work as ever"
    if root is not None:
        folder = Path(root).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"--server-paths {root} is not a folder on this machine")
        _policy = Policy(open=False, root=folder)
        return f"Paths typed into the page (checkpoints, audit and dataset folders) must lie under {folder}"
    if is_loopback(host) and not logins:
        _policy = Policy()
        return "Paths typed into the page may name any file this account can read (served on this machine alone)"
    _policy = Policy(open=False, root=None)
    why = "it asks for a login: its users are others" if logins else f"it serves {host}"
    return (f"Paths typed into the page are refused ({why}; give --server-paths DIR to allow one folder); uploads "
            "work as ever")


def box_info() -> str | None:
    """What the page says under each path box where the server limits them (None where it reads any path)."""
    if _policy.open:
        return None
    if _policy.root is None:
        return "This server reads no paths on its machine: upload files instead."
    return f"A path under {_policy.root} (the only folder this server reads from), or relative to it."


def server_path(text: str, box: str) -> Path:
    """The path typed into `box` (its label, for the message), if the policy lets the page read it. Where paths
    are limited, a path outside the root as typed, starting with '~' or holding a '..' part is refused before
    anything is looked up (a lookup would tell a caller which accounts exist, which parts are links, or loop), a
    relative one is read under the root, and the words are the same whether a refused path exists or not."""
    text = text.strip()
    if not _policy.open and _policy.root is None:
        raise ValueError(f"{box}: this server reads no paths on its machine; upload the files instead, or ask whoever "
                         "runs it to start it with --server-paths DIR.")
    if "\x00" in text:                                 # no file name holds one; the system calls refuse it
        raise ValueError(f"{box}: the path typed holds a NUL character (\\x00), which no path on disk has; type it "
                         "again.")
    if _policy.open:
        return Path(text).expanduser()
    refused = ValueError(f"{box}: '{text}' is not a path under {_policy.root}, the only folder this server reads "
                         "from (give one inside it, or relative to it, without '~' or '..').")
    typed = _policy.root / text                        # an absolute text replaces the root
    if text.startswith("~") or ".." in Path(text).parts or not typed.is_relative_to(_policy.root):
        raise refused                                  # as typed, before anything is looked up
    try:
        resolved = typed.resolve()                     # links followed: one inside may point out
    except (OSError, RuntimeError):                    # a loop of links: the same words
        raise refused from None
    if not resolved.is_relative_to(_policy.root):
        raise refused
    return resolved
