"""Turn a handler's failure into a message in the page: the problem in plain words, never a stack
trace, and the server goes on serving everyone else; and, for a handler whose outputs would otherwise keep the
results of another clip or other models beside the failure, empty them first (clears_on_error)."""
from __future__ import annotations

import functools
import logging
import time
from typing import Callable

import gradio as gr

from app.error_text import error_text
from echo.clip import ClipError

log = logging.getLogger("echolens")
EXPECTED = (ClipError, ValueError, FileNotFoundError, KeyError, NotImplementedError)


def shows_errors(fn):
    """Decorator for Gradio event functions: expected errors become gr.Error with their own message (logged, as each
    event's time is: the server's record), anything else a short 'something went wrong' with its type, logged with
    its traceback. The message stays until the user closes it or starts another action (app.layout.JS): the outputs
    keep an 'Error' mark, which must not outlive its reason."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.monotonic()
        try:
            result = fn(*args, **kwargs)
            log.info("%s done in %.1f s", fn.__name__, time.monotonic() - start)
            return result
        except gr.Error:
            raise
        except EXPECTED as e:
            message = error_text(e)
            log.info("%s refused after %.1f s: %s", fn.__name__, time.monotonic() - start,
                     " ".join(message.split()))          # one line: a typed path cannot forge log lines
            raise gr.Error(message, duration=None, print_exception=False) from None
        except Exception as e:                                   # noqa: BLE001 - keep serving
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}: {e}). The app is still running; "
                           "try another clip or setting.", duration=None, print_exception=False) from None
    return wrapper


def clears_on_error(cleared: Callable[[], tuple | list]):
    """Decorator (over shows_errors) for an event function whose outputs a failure must not leave standing: Gradio
    leaves a failed event's outputs as they were, with an 'Error' mark, so a prediction that failed for new models
    or a new clip showed the EF of the ones before under the new name. The function becomes a generator: its result
    once, as before; or, when it fails, cleared() (its outputs' empty values, in its order) and then the error, so
    the page shows the message beside emptied outputs. Called directly (tests), it yields the one or the other."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
            except gr.Error:
                yield cleared()
                raise
            yield result
        return wrapper
    return decorate
