"""Turn a handler's failure into a message in the page: the problem in plain words, never a stack
trace, and the server goes on serving everyone else."""
from __future__ import annotations

import functools
import logging

import gradio as gr

from echo.clip import ClipError

log = logging.getLogger("echolens")
EXPECTED = (ClipError, ValueError, FileNotFoundError, KeyError, NotImplementedError)


def shows_errors(fn):
    """Decorator for Gradio event functions: expected errors become gr.Error with their own message,
    anything else a short 'something went wrong' with its type, logged with its traceback. The message
    stays until the user closes it or starts another action (app.layout.JS): the outputs keep an 'Error'
    mark, which must not outlive its reason."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except EXPECTED as e:
            message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            raise gr.Error(str(message), duration=None, print_exception=False) from None
        except Exception as e:                                   # noqa: BLE001 - keep serving
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}: {e}). The app is still running; "
                           "try another clip or setting.", duration=None, print_exception=False) from None
    return wrapper
