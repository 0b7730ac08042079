"""The ``animgraph`` command: run a video through the whole queue, start workers and Flower.

One module per command group: ``run``, ``workers`` (worker, flower), ``serve`` (api, up),
``status`` (status, worker-alive), ``templates``, ``flows`` and ``events``; ``common`` holds
the client helpers and printing.
"""

from __future__ import annotations

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
    app()
