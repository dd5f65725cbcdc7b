"""The words a user is shown for an expected error: its own message, a KeyError's too (str() of a KeyError is the
repr of its argument, quotes and escapes included). One helper for the page (app.errors, app.views.models) and the
command line (app.cli), which does not import Gradio."""
from __future__ import annotations


def error_text(error: BaseException) -> str:
    """The message of `error` as written where it was raised."""
    return str(error.args[0] if isinstance(error, KeyError) and error.args else error)
