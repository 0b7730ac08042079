"""The ``animgraph`` command: run a video through the whole queue, start workers and Flower."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlparse

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from animgraph.shared.errors import ApiError
from animgraph.shared.models import ProcedureTask, TaskDetail
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import QUEUES

from .client import Client
from .local import LocalCluster, wait_for_workers

app = typer.Typer(
    help="animgraph: turn a segment of a video into an animated GIF or WebP through Redis "
    "and Celery workers.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)
out = Console()


@contextlib.contextmanager
def _connected(settings: Settings) -> Iterator[Client]:
    """A client on the configured Redis, or on an embedded Redis plus worker for this run."""
    if settings.redis_url:
        with Client(settings) as client:
            try:
                count = wait_for_workers(settings.redis_url, settings, timeout_s=5)
                err.print(f"[dim]{count} worker(s) on {settings.redis_url}[/]")
            except TimeoutError:
                err.print(
                    "[yellow]No worker answered yet: the task waits in the queue until one "
                    "starts (animgraph worker).[/]"
                )
            yield client
        return
    with err.status("Starting an embedded Redis and a worker..."):
        cluster = LocalCluster(settings.data_dir).start(settings)
    try:
        err.print(
            f"[dim]Embedded Redis on {cluster.redis_url}, worker log in "
            f"{cluster.data_dir / 'local.log'}[/]"
        )
        with Client(settings, redis_url=cluster.redis_url) as client:
            yield client
    finally:
        cluster.stop()


def _template_definition(
    client: Client, fmt: str | None, fps: int | None, width: int, height: int, quality: float | None
) -> int:
    """Create an ad-hoc custom template from the command-line options."""
    fields: dict[str, object] = {"Format": fmt or "gif", "Fps": fps or 10}
    fields.update({"Width": width, "Height": height, "Name": "animgraph run"})
    if quality is not None:
        fields["Quality"] = quality
    template = client.create_template(**fields)
    err.print(f"[dim]Ad-hoc template {template.definition}: {json.dumps(template.wire())}[/]")
    return template.definition


def _show_progress(task_id: str, client: Client) -> ProcedureTask:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        bars: dict[int, TaskID] = {}

        def update(detail: TaskDetail) -> None:
            for i, result in enumerate(detail.procedure_task.media_process_result_set):
                sub = result.animated_graphic_task
                if i not in bars:
                    bars[i] = progress.add_task(
                        f"Definition {sub.input.definition}", total=100, status=detail.status
                    )
                status = sub.status if detail.status != "WAITING" else "WAITING"
                progress.update(bars[i], completed=sub.progress, status=status)

        return client.wait(task_id, on_update=update)


def _copy_output(url: str, dest: Path) -> None:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise typer.BadParameter(f"cannot copy {url}: only file:// outputs are copied")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(unquote(parsed.path), dest)


@app.command()
def run(
    video: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Local video file")],
    definition: Annotated[
        list[int] | None,
        typer.Option("--definition", "-d", help="Template (20000 GIF, 20001 WebP); repeatable"),
    ] = None,
    start: Annotated[float, typer.Option(help="StartTimeOffset, s (0: start, <0: from end)")] = 0,
    end: Annotated[float, typer.Option(help="EndTimeOffset, s (0: end, <0: from end)")] = 0,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Ad-hoc template: gif or webp")
    ] = None,
    fps: Annotated[
        int | None, typer.Option(help="Ad-hoc template: frames per second 1..60")
    ] = None,
    width: Annotated[int, typer.Option(help="Ad-hoc template: max width (0 follows)")] = 0,
    height: Annotated[int, typer.Option(help="Ad-hoc template: max height (0 follows)")] = 0,
    quality: Annotated[float | None, typer.Option(help="Ad-hoc template: 1..100")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file")] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="Folder for the outputs (default: current folder)")
    ] = None,
    event_file: Annotated[Path | None, typer.Option(help="Also write the event JSON here")] = None,
) -> None:
    """Make animated images from a segment of VIDEO through the queue and print the event."""
    settings = Settings()
    definitions = list(definition or [])
    adhoc = any(v is not None for v in (fmt, fps, quality)) or width or height
    if output and len(definitions) + bool(adhoc) > 1:
        raise typer.BadParameter("--output names one file: use --output-dir for several images")
    try:
        with _connected(settings) as client:
            if adhoc or not definitions:
                definitions.append(_template_definition(client, fmt, fps, width, height, quality))
            media = client.register_media(video)
            err.print(
                f"Registered [bold]{video.name}[/] as FileId {media.file_id}: "
                f"{media.meta_data.width}x{media.meta_data.height}, "
                f"{media.meta_data.duration:.2f} s"
            )
            task_id = client.process_media(
                {
                    "FileId": media.file_id,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [
                            {"Definition": d, "StartTimeOffset": start, "EndTimeOffset": end}
                            for d in definitions
                        ]
                    },
                }
            )
            err.print(f"TaskId {task_id}")
            task = _show_progress(task_id, client)
            event = client.task_event(task_id)
    except ApiError as exc:
        err.print(f"[red]{exc.code}[/]: {exc.message}")
        raise typer.Exit(2) from None
    failed = 0
    for result in task.media_process_result_set:
        sub = result.animated_graphic_task
        if sub.output is None:
            failed += 1
            err.print(
                f"[red]Definition {sub.input.definition}: {sub.err_code_ext}[/] {sub.message}"
            )
            continue
        dest = output or (output_dir or Path.cwd()) / (
            f"{video.stem}.f{sub.output.definition}.{sub.output.container}"
        )
        _copy_output(sub.output.url, dest)
        err.print(
            f"[green]Wrote {dest}[/]: {sub.output.width}x{sub.output.height}, "
            f"{sub.output.size} bytes, {sub.output.start_time_offset:g}-"
            f"{sub.output.end_time_offset:g} s"
        )
    body = json.dumps(event.wire() if event else {}, indent=2)
    out.print_json(body) if sys.stdout.isatty() else print(body)
    if event_file:
        event_file.write_text(body + "\n")
    if failed:
        raise typer.Exit(1)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="Processes (default: cores)")
    ] = None,
    queues: Annotated[str, typer.Option("-Q", "--queues")] = ",".join(QUEUES),
    name: Annotated[str, typer.Option("-n", "--name")] = "animgraph@%h",
    loglevel: Annotated[str, typer.Option("-l", "--loglevel")] = "INFO",
) -> None:
    """Start a worker on ANIMGRAPH_REDIS_URL (add more, on any host, to go faster)."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/]: a worker serves a Redis shared with producers.")
        raise typer.Exit(2)
    from animgraph.workers.app import app as celery_app

    argv = ["worker", "-Q", queues, "-n", name, "-l", loglevel, "-P", "prefork", "-E"]
    if concurrency or settings.worker_concurrency:
        argv += ["-c", str(concurrency or settings.worker_concurrency)]
    celery_app.worker_main(argv)


@app.command()
def flower(
    port: Annotated[int, typer.Option(help="HTTP port")] = 5555,
    basic_auth: Annotated[
        str | None, typer.Option(help="user:password (default: $ANIMGRAPH_FLOWER_BASIC_AUTH)")
    ] = None,
) -> None:
    """Start Flower against ANIMGRAPH_REDIS_URL to watch the workers."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/] to the Redis the workers use.")
        raise typer.Exit(2)
    from animgraph.workers.app import app as celery_app

    argv = ["flower", f"--port={port}", "--max_tasks=10000"]
    auth = basic_auth or os.environ.get("ANIMGRAPH_FLOWER_BASIC_AUTH")
    if auth:
        argv.append(f"--basic-auth={auth}")
    celery_app.start(argv)


def main() -> None:
    app()
