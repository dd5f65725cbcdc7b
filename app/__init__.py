"""The EchoLens Gradio app: the page (layout.py, one function per tab), its event functions (events.py),
one handler module per view (views/), the clip store and result cache the handlers share (session.py), the
files it serves and the uploads it keeps (media.py),
and the headless CLI (cli.py).

Handlers are plain functions over plain values; they call explain/ and model_zoo/ and never hold
Gradio state themselves, so tests call them directly.
"""
