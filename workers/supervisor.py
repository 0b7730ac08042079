"""The supervisor of ``animgraph worker``: run the Celery worker as a child process and start
it again when it dies unasked."""

from __future__ import annotations

import logging
import signal
import subprocess
import time

from rich.console import Console

from animgraph.shared.logs import json_logging

__all__ = ["supervise"]

_err = Console(stderr=True)
log = logging.getLogger(__name__)


def supervise(command: list[str], *, json_logs: bool = False) -> int:
    """Run ``command`` (the worker) as a child, start it again when it dies; its exit code.

    A worker can exit on its own when the broker connection breaks in an unlucky moment (a
    kombu race on Redis restarts); its unacknowledged tasks come back after the visibility
    timeout, so restarting it is all that is needed. SIGTERM, SIGINT and SIGQUIT are passed on,
    and then the worker is not restarted. ``json_logs``: its own lines as JSON too.
    """

    def say(level: int, plain: str, rich: str) -> None:
        if json_logs:
            log.log(level, plain)
        else:
            _err.print(rich)

    if json_logs:
        json_logging()
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)
    restarts: list[float] = []
    while True:
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping or code == 0:
            return code
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        if len(restarts) > 5:
            text = f"The worker died {len(restarts)} times in a minute; giving up."
            say(logging.ERROR, text, f"[red]{text}[/]")
            return code
        text = f"The worker exited with {code}; starting it again."
        say(logging.WARNING, text, f"[yellow]{text}[/]")
        time.sleep(1)
