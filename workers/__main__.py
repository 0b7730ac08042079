"""``python -m animgraph.workers``: the Celery worker process, started without Celery's CLI.

``animgraph worker`` runs this (under its supervisor, or in its own place through ``exec``).
``celery -A animgraph.workers.app worker`` starts the same worker, but Celery's command line
loads every subcommand and every ``celery.commands`` plugin on the way (Flower and Tornado,
click-repl and prompt_toolkit, ~14 MB), and each pool process, forked from the worker, carries
them. Started here, a pool process holds only what running tasks needs.
"""

from __future__ import annotations

import argparse
import sys

from animgraph.shared.tasknames import QUEUES


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m animgraph.workers",
        description="Start an animgraph worker (a prefork Celery worker) on ANIMGRAPH_REDIS_URL.",
    )
    parser.add_argument("-c", "--concurrency", type=int, help="pool processes (default: cores)")
    parser.add_argument("-Q", "--queues", default=",".join(QUEUES), help="comma-separated")
    parser.add_argument("-n", "--hostname", default="animgraph@%h", help="node name (%%h: host)")
    parser.add_argument("-l", "--loglevel", default="INFO")
    parser.add_argument("-P", "--pool", default="prefork")
    parser.add_argument(
        "-E", "--task-events", action="store_true", help="send task events (for Flower)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from celery.utils.nodenames import default_nodename, host_format

    from animgraph.workers import logs
    from animgraph.workers.app import app, settings

    logs.start()
    worker = app.Worker(
        hostname=host_format(default_nodename(args.hostname)),
        pool_cls=args.pool,
        loglevel=args.loglevel,
        concurrency=args.concurrency,
        queues=args.queues,
        task_events=args.task_events,
        # JSON logs: no banner on stdout (the "ready" line says the same as JSON).
        quiet=settings.log_format == "json",
    )
    worker.start()
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    sys.exit(main())
