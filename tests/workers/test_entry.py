"""``python -m animgraph.workers``: what the worker process parses and what it imports.

Every test with a worker starts it through this entry (``animgraph worker`` execs it); these
check the parts those tests cannot see: the defaults, and that a pool process, forked from the
worker, does not carry command-line code it never runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

from animgraph.shared.tasknames import QUEUES
from animgraph.workers.__main__ import parse


def test_defaults_serve_every_queue_under_the_host_name() -> None:
    args = parse([])
    assert args.queues.split(",") == list(QUEUES)
    assert args.hostname == "animgraph@%h"
    assert args.pool == "prefork"
    assert args.concurrency is None
    assert args.task_events is False


def test_options_as_animgraph_worker_passes_them() -> None:
    args = parse(["-Q", "media", "-n", "m1@%h", "-l", "DEBUG", "-P", "prefork", "-E", "-c", "3"])
    assert (args.queues, args.hostname, args.loglevel, args.concurrency) == (
        "media",
        "m1@%h",
        "DEBUG",
        3,
    )
    assert args.task_events is True


def test_worker_process_imports_no_command_line_code() -> None:
    # What the worker imports before it forks its pool: the entry, the app and its tasks, and
    # Celery's worker with the prefork pool and the Redis transport.
    probe = (
        "import json, sys\n"
        "import animgraph.workers.__main__, animgraph.workers.app, animgraph.workers.tasks\n"
        "import celery.apps.worker, celery.concurrency.prefork, kombu.transport.redis\n"
        "heavy = ('celery.bin', 'flower', 'tornado', 'prompt_toolkit', 'click_repl', 'httpx',\n"
        "         'rich', 'pygments', 'typer', 'animgraph.producer', 'boto3', 'fastapi')\n"
        "print(json.dumps(sorted({m.split('.')[0] if not m.startswith(('celery.', 'animgraph.'))\n"
        "    else '.'.join(m.split('.')[:2]) for m in sys.modules if m.startswith(heavy)})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []
