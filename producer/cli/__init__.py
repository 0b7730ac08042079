"""The ``animgraph`` command: run a video through the whole queue, start workers and Flower.

One module per command group: ``run``, ``workers`` (worker, flower), ``serve`` (api, up),
``status`` (status, worker-alive), ``templates``, ``flows`` and ``events``; ``common`` holds
the client helpers and printing.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn

import typer

from .events import events_app
from .flows import flows_app
from .run import run
from .serve import api, up
from .status import status, worker_alive
from .templates import templates_app
from .workers import flower, worker

__all__ = ["app", "main"]

app = typer.Typer(
    help="animgraph: turn a segment of a video into an animated GIF or WebP through Redis "
    "and Celery workers.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(events_app, name="events", no_args_is_help=True)
app.add_typer(templates_app, name="templates", no_args_is_help=True)
app.add_typer(flows_app, name="flows", no_args_is_help=True)
for command in (run, worker, flower, api, up, status):
    app.command()(command)
app.command("worker-alive")(worker_alive)


def main() -> None:
    """The console script: the command, then a quick exit.

    Once the command has returned (its own ``finally`` blocks done), the exit handlers run,
    the output is flushed and the process ends without the interpreter's teardown, which
    frees every module one by one: about 0.2 s after ``animgraph run`` has loaded the client,
    Celery and PyAV, a tenth of a short job. An exception other than an exit (a bug's
    traceback) takes the ordinary way out.
    """
    try:
        app()
    except SystemExit as exc:
        _quick_exit(exc.code)
    _quick_exit(0)


def _quick_exit(code: object) -> NoReturn:
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1, as the interpreter does
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)
