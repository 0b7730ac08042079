"""The ``animgraph`` command: run a video through the whole queue, start workers and Flower."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlparse

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from animgraph.shared.errors import ApiError
from animgraph.shared.models import (
    AnimatedGraphicTaskInput,
    ProcedureTask,
    TaskDetail,
    WireModel,
)
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.shared.tasknames import QUEUES

from .client import Client
from .local import LocalCluster, WorkerProcess, wait_for_workers

app = typer.Typer(
    help="animgraph: turn a segment of a video into an animated GIF or WebP through Redis "
    "and Celery workers.",
    no_args_is_help=True,
    add_completion=False,
)
templates_app = typer.Typer(
    help="Animated graphics templates (Definition 20000, 20001, 100001...)."
)
flows_app = typer.Typer(help="Task flows: named, saved sets of animated-image tasks.")
events_app = typer.Typer(help="Event delivery: PUSH callbacks or the PULL queue.")
app.add_typer(events_app, name="events", no_args_is_help=True)
app.add_typer(templates_app, name="templates", no_args_is_help=True)
app.add_typer(flows_app, name="flows", no_args_is_help=True)
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


@contextlib.contextmanager
def _state_only(settings: Settings) -> Iterator[Client]:
    """A client for managing saved things: the configured Redis, or the embedded one's files."""
    try:
        if settings.redis_url:
            with Client(settings) as client:
                yield client
            return
        with (
            RedisServer(settings.data_dir.resolve() / "redis", appendonly=True) as server,
            Client(settings, redis_url=server.url) as client,
        ):
            yield client
    except ApiError as exc:
        err.print(f"[red]{exc.code}[/]: {exc.message}")
        raise typer.Exit(2) from None


def _print(model: WireModel) -> None:
    body = json.dumps(model.wire(), indent=2, ensure_ascii=False)
    out.print_json(body) if sys.stdout.isatty() else print(body)


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
    """Copy an output to ``dest`` from its file:// or http(s):// URL."""
    parsed = urlparse(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if parsed.scheme == "file":
        shutil.copyfile(unquote(parsed.path), dest)
        return
    with httpx.stream("GET", url, timeout=60) as answer, open(dest, "wb") as out:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            out.write(chunk)


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
    procedure: Annotated[
        str | None, typer.Option(help="Run this task flow instead of --definition options")
    ] = None,
    priority: Annotated[int, typer.Option(help="TasksPriority -10..10, higher first")] = 0,
    session_context: Annotated[str, typer.Option(help="SessionContext, echoed back")] = "",
) -> None:
    """Make animated images from a segment of VIDEO through the queue and print the event."""
    settings = Settings()
    definitions = list(definition or [])
    adhoc = any(v is not None for v in (fmt, fps, quality)) or width or height
    if procedure and (definitions or adhoc):
        raise typer.BadParameter("--procedure replaces --definition and the template options")
    if output and (procedure or len(definitions) + bool(adhoc) > 1):
        raise typer.BadParameter("--output names one file: use --output-dir for several images")
    try:
        with _connected(settings) as client:
            if not procedure and (adhoc or not definitions):
                definitions.append(_template_definition(client, fmt, fps, width, height, quality))
            media = client.register_media(video)
            err.print(
                f"Registered [bold]{video.name}[/] as FileId {media.file_id}: "
                f"{media.meta_data.width}x{media.meta_data.height}, "
                f"{media.meta_data.duration:.2f} s"
            )
            options = {
                "FileId": media.file_id,
                "TasksPriority": priority,
                "SessionContext": session_context,
            }
            if procedure:
                task_id = client.process_media_by_procedure({**options, "ProcedureName": procedure})
            else:
                items = [
                    {"Definition": d, "StartTimeOffset": start, "EndTimeOffset": end}
                    for d in definitions
                ]
                task_id = client.process_media(
                    {**options, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}
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
    supervise: Annotated[
        bool, typer.Option(help="Restart the Celery worker if it dies (e.g. on a broker bug)")
    ] = True,
) -> None:
    """Start a worker on ANIMGRAPH_REDIS_URL (add more, on any host, to go faster)."""
    settings = Settings()
    if not settings.redis_url:
        err.print("[red]Set ANIMGRAPH_REDIS_URL[/]: a worker serves a Redis shared with producers.")
        raise typer.Exit(2)
    command = [sys.executable, "-m", "animgraph.workers", "-Q", queues, "-n", name]
    command += ["-l", loglevel, "-P", "prefork", "-E"]
    if concurrency or settings.worker_concurrency:
        command += ["-c", str(concurrency or settings.worker_concurrency)]
    if supervise:
        raise typer.Exit(_supervise(command))
    # In this process's place (same PID), without the CLI's imports: pool processes fork from it.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def _supervise(command: list[str]) -> int:
    """Run the Celery worker as a child and start it again when it dies unasked.

    A worker can exit on its own when the broker connection breaks in an unlucky moment (a
    kombu race on Redis restarts); its unacknowledged tasks come back after the visibility
    timeout, so restarting it is all that is needed. SIGTERM, SIGINT and SIGQUIT are passed on,
    and then the worker is not restarted.
    """
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
            err.print(f"[red]The worker died {len(restarts)} times in a minute; giving up.[/]")
            return code
        err.print(f"[yellow]The worker exited with {code}; starting it again.[/]")
        time.sleep(1)


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


# --- the HTTP API and the whole local stack ----------------------------------------------------


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from .api import create_app

    try:
        api = create_app(settings)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    uvicorn.run(api, host=host, port=port, log_level="warning")


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API (Tencent Cloud API 3.0 style) on ANIMGRAPH_REDIS_URL."""
    settings = Settings()
    if not settings.redis_url:
        err.print(
            "[red]Set ANIMGRAPH_REDIS_URL[/] (the Redis your workers use), or run "
            "`animgraph up` for a whole local stack."
        )
        raise typer.Exit(2)
    public = settings.public_url or f"http://{host}:{port}"
    _serve(settings.model_copy(update={"public_url": public}), host, port)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address of the API")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    flower_port: Annotated[int, typer.Option(help="Port of Flower")] = 5555,
    concurrency: Annotated[int, typer.Option("-c", help="Worker processes")] = 1,
) -> None:
    """Start a whole local stack: Redis (embedded unless ANIMGRAPH_REDIS_URL is set), a worker,
    the API and Flower. Ctrl-C or SIGTERM stops them all."""
    import secrets

    settings = Settings()
    public = settings.public_url or f"http://{host}:{port}"
    api_keys = settings.api_keys or f"animgraph-local:{secrets.token_urlsafe(24)}"
    flower_auth = os.environ.get("ANIMGRAPH_FLOWER_BASIC_AUTH") or (
        f"admin:{secrets.token_urlsafe(12)}"
    )
    data_dir = settings.data_dir.resolve()
    redis_server = None
    processes: list[WorkerProcess | subprocess.Popen[bytes]] = []
    try:
        redis_url = settings.redis_url
        if not redis_url:
            redis_server = RedisServer(data_dir / "redis", appendonly=True).start()
            redis_url = redis_server.url
        stack = settings.model_copy(
            update={"redis_url": redis_url, "public_url": public, "api_keys": api_keys}
        )
        worker = WorkerProcess(
            redis_url,
            data_dir,
            name="up",
            concurrency=concurrency,
            env={"ANIMGRAPH_PUBLIC_URL": public},
            supervise=True,
        ).start()
        processes.append(worker)
        env = {**os.environ, "ANIMGRAPH_REDIS_URL": redis_url}
        flower_args = ["flower", "--port", str(flower_port), "--basic-auth", flower_auth]
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "animgraph.producer", *flower_args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with err.status("Waiting for the worker..."):
            wait_for_workers(redis_url, stack)
        secret_id, _, secret_key = api_keys.split(",")[0].partition(":")
        err.print(f"Redis   {redis_url}")
        err.print(f"API     {public}  (SecretId {secret_id}, SecretKey {secret_key})")
        signin = "the key pair" + (" or the console password" if settings.console_password else "")
        err.print(f"Console {public}/console/  (sign in with {signin})")
        err.print(f"Flower  http://{host}:{flower_port}  (basic auth {flower_auth})")
        err.print(f"Worker  log in {worker.log_path}")
        err.print("[dim]Ctrl-C stops everything.[/]")
        # uvicorn stops on SIGINT/SIGTERM, then raises the signal again with the handler it
        # found: make that an exception, so the processes below are stopped too.
        signal.signal(signal.SIGTERM, _raise_exit)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            _serve(stack, host, port)
    finally:
        for proc in reversed(processes):
            if isinstance(proc, WorkerProcess):
                proc.stop()
            elif proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        if redis_server:
            redis_server.stop()


# --- templates -------------------------------------------------------------------------------

FormatOpt = Annotated[str | None, typer.Option("--format", help="gif or webp")]
WidthOpt = Annotated[
    int | None, typer.Option(help="Max width (long side if adaptive), 0 or 128..4096")
]
HeightOpt = Annotated[
    int | None, typer.Option(help="Max height (short side if adaptive), 0 or 128..4096")
]
AdaptiveOpt = Annotated[str | None, typer.Option(help="open (long/short side) or close (literal)")]
FpsOpt = Annotated[int | None, typer.Option(help="Frames per second, 1..60")]
QualityOpt = Annotated[float | None, typer.Option(help="1..100")]
NameOpt = Annotated[str | None, typer.Option(help="Up to 64 characters")]
CommentOpt = Annotated[str | None, typer.Option(help="Up to 256 characters")]


def _given(**options: object) -> dict[str, object]:
    """The options the user gave, by wire name."""
    names = {
        "fmt": "Format",
        "resolution_adaptive": "ResolutionAdaptive",
        "notification_url": "NotificationUrl",
    }
    return {
        names.get(key, key.title()): value for key, value in options.items() if value is not None
    }


@templates_app.command("create")
def templates_create(
    fps: Annotated[int, typer.Option(help="Frames per second, 1..60")],
    fmt: FormatOpt = None,
    width: WidthOpt = None,
    height: HeightOpt = None,
    resolution_adaptive: AdaptiveOpt = None,
    quality: QualityOpt = None,
    name: NameOpt = None,
    comment: CommentOpt = None,
) -> None:
    """Create a custom template; prints it with its new Definition."""
    fields = _given(
        fps=fps, fmt=fmt, width=width, height=height, resolution_adaptive=resolution_adaptive,
        quality=quality, name=name, comment=comment,
    )  # fmt: skip
    with _state_only(Settings()) as client:
        _print(client.create_animated_graphics_template(fields))


@templates_app.command("modify")
def templates_modify(
    definition: int,
    fps: FpsOpt = None,
    fmt: FormatOpt = None,
    width: WidthOpt = None,
    height: HeightOpt = None,
    resolution_adaptive: AdaptiveOpt = None,
    quality: QualityOpt = None,
    name: NameOpt = None,
    comment: CommentOpt = None,
) -> None:
    """Change the given fields of a custom template."""
    fields = _given(
        definition=definition, fps=fps, fmt=fmt, width=width, height=height,
        resolution_adaptive=resolution_adaptive, quality=quality, name=name, comment=comment,
    )  # fmt: skip
    with _state_only(Settings()) as client:
        _print(client.modify_animated_graphics_template(fields))


@templates_app.command("list")
def templates_list(
    type_: Annotated[str | None, typer.Option("--type", help="Preset or Custom")] = None,
    definition: Annotated[list[int] | None, typer.Option("--definition", "-d")] = None,
    offset: int = 0,
    limit: int = 10,
) -> None:
    """List templates (presets first), with TotalCount."""
    request = _given(definitions=definition, type=type_, offset=offset, limit=limit)
    with _state_only(Settings()) as client:
        _print(client.describe_animated_graphics_templates(request))


@templates_app.command("show")
def templates_show(definition: int) -> None:
    """Show one template."""
    with _state_only(Settings()) as client:
        found = client.describe_animated_graphics_templates({"Definitions": [definition]})
        if not found.animated_graphics_template_set:
            raise ApiError(
                f"Definition {definition}: no such template", "ResourceNotFound.TemplateNotExist"
            )
        _print(found.animated_graphics_template_set[0])


@templates_app.command("delete")
def templates_delete(definition: int) -> None:
    """Delete a custom template."""
    with _state_only(Settings()) as client:
        client.delete_animated_graphics_template(definition)
        err.print(f"Deleted template {definition}")


# --- task flows ------------------------------------------------------------------------------

TaskOpt = Annotated[
    list[str],
    typer.Option(
        "--task",
        "-t",
        help="DEFINITION[:START[:END]] seconds (0 or empty: start/end; negative: from the end); "
        "repeatable",
    ),
]


def _task_item(spec: str) -> AnimatedGraphicTaskInput:
    parts = spec.split(":")
    try:
        if not 1 <= len(parts) <= 3:
            raise ValueError
        values = [float(p) if p else 0.0 for p in parts[1:]]
        return AnimatedGraphicTaskInput(
            definition=int(parts[0]),
            start_time_offset=values[0] if values else None,
            end_time_offset=values[1] if len(values) > 1 else None,
        )
    except ValueError:
        raise typer.BadParameter(f"--task {spec!r}: use DEFINITION[:START[:END]]") from None


def _flow_request(name: str, tasks: list[str], comment: str) -> dict[str, object]:
    items = [_task_item(t).wire() for t in tasks]
    return {"Name": name, "Comment": comment, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}}


@flows_app.command("create")
def flows_create(name: str, task: TaskOpt, comment: str = "") -> None:
    """Create a task flow: e.g. flows create teaser -t 20000:2:5 -t 100001:-3"""
    with _state_only(Settings()) as client:
        _print(client.create_procedure_template(_flow_request(name, task, comment)))


@flows_app.command("reset")
def flows_reset(name: str, task: TaskOpt, comment: str = "") -> None:
    """Replace the tasks of a task flow."""
    with _state_only(Settings()) as client:
        _print(client.reset_procedure_template(_flow_request(name, task, comment)))


@flows_app.command("list")
def flows_list(
    name: Annotated[list[str] | None, typer.Option("--name")] = None,
    offset: int = 0,
    limit: int = 10,
) -> None:
    """List task flows, with TotalCount."""
    with _state_only(Settings()) as client:
        _print(client.describe_procedure_templates(_given(names=name, offset=offset, limit=limit)))


@flows_app.command("show")
def flows_show(name: str) -> None:
    """Show one task flow."""
    with _state_only(Settings()) as client:
        _print(client.get_procedure_template(name))


@flows_app.command("delete")
def flows_delete(name: str) -> None:
    """Delete a task flow."""
    with _state_only(Settings()) as client:
        client.delete_procedure_template(name)
        err.print(f"Deleted task flow {name}")


# --- events ----------------------------------------------------------------------------------


@events_app.command("config")
def events_config(
    mode: Annotated[str | None, typer.Option(help="PUSH or PULL")] = None,
    url: Annotated[str | None, typer.Option("--url", help="NotificationUrl for PUSH")] = None,
) -> None:
    """Show the event configuration, or change it with --mode/--url."""
    with _state_only(Settings()) as client:
        if mode is None and url is None:
            _print(client.describe_event_config())
        else:
            _print(client.modify_event_config(_given(mode=mode, notification_url=url)))


@events_app.command("pull")
def events_pull(
    wait: Annotated[float, typer.Option(help="Seconds to wait for an event")] = 5.0,
    confirm: Annotated[bool, typer.Option(help="Confirm what was pulled")] = False,
) -> None:
    """Pull up to 16 events (JSON with EventHandles); unconfirmed ones come again after 30 s."""
    with _state_only(Settings()) as client:
        pulled = client.pull_events(wait_s=wait)
        _print(pulled)
        handles = [e.event_handle for e in pulled.event_set if e.event_handle]
        if confirm and handles:
            client.confirm_events({"EventHandles": handles})
            err.print(f"Confirmed {len(handles)} event(s)")


@events_app.command("confirm")
def events_confirm(handles: list[str]) -> None:
    """Confirm pulled events by their EventHandles."""
    with _state_only(Settings()) as client:
        client.confirm_events({"EventHandles": handles})
        err.print(f"Confirmed {len(handles)} event(s)")


def main() -> None:
    app()
