"""``animgraph run``: one video through the whole queue, the outputs copied here, the event
printed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote, urlparse

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from animgraph.shared.errors import ApiError
from animgraph.shared.settings import Settings

from .common import connected, err, print_json
from .loop_options import HighlightOpt, LoopCountOpt, LoopModeOpt, SeamWindowOpt, loop_fields
from .output_options import FormatOpt, MaxSizeOpt, fitted_summary, output_fields
from .timing import mark, timed_probe

if TYPE_CHECKING:
    from animgraph.shared.models import ProcedureTask, TaskDetail

    from ..client import Client

__all__ = ["run"]


def _template_definition(
    client: Client,
    fps: int | None,
    width: int,
    height: int,
    quality: float | None,
    extra: dict[str, object],
) -> int:
    """Create an ad-hoc custom template from the command-line options (``extra``: the output
    and loop fields given)."""
    fields: dict[str, object] = {"Format": "gif", "Fps": fps or 10}
    fields.update({"Width": width, "Height": height, "Name": "animgraph run"})
    if quality is not None:
        fields["Quality"] = quality
    fields.update(extra)
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


def _budgets(client: Client, task: ProcedureTask) -> dict[int, int]:
    """The ``MaxSize`` of each template of the task's outputs that had one (for the summary);
    a template deleted since is left out."""
    wanted = {
        r.animated_graphic_task.output.definition
        for r in task.media_process_result_set
        if r.animated_graphic_task.output and r.animated_graphic_task.output.encodes is not None
    }
    if not wanted:
        return {}
    found = client.describe_animated_graphics_templates({"Definitions": sorted(wanted)})
    return {t.definition: t.max_size for t in found.animated_graphics_template_set}


def _copy_output(url: str, dest: Path) -> None:
    """Put an output at ``dest`` from its file:// or http(s):// URL: a file:// output is hard
    linked (no bytes copied; the link is a file of its own name, deleting either name leaves
    the other), or copied where a link cannot be made (another file system)."""
    parsed = urlparse(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if parsed.scheme == "file":
        src = Path(unquote(parsed.path))
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            os.link(src, tmp)
        except OSError:  # across file systems, or links not allowed: the bytes, copied
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)  # over an earlier output of the same name, atomically
        return
    import httpx

    with httpx.stream("GET", url, timeout=60) as answer, open(dest, "wb") as out:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            out.write(chunk)


def run(
    video: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Local video file")],
    definition: Annotated[
        list[int] | None,
        typer.Option("--definition", "-d", help="Template (20000 GIF, 20001 WebP); repeatable"),
    ] = None,
    start: Annotated[float, typer.Option(help="StartTimeOffset, s (0: start, <0: from end)")] = 0,
    end: Annotated[float, typer.Option(help="EndTimeOffset, s (0: end, <0: from end)")] = 0,
    fmt: FormatOpt = None,
    fps: Annotated[
        int | None, typer.Option(help="Ad-hoc template: frames per second 1..60")
    ] = None,
    width: Annotated[int, typer.Option(help="Ad-hoc template: max width (0 follows)")] = 0,
    height: Annotated[int, typer.Option(help="Ad-hoc template: max height (0 follows)")] = 0,
    quality: Annotated[float | None, typer.Option(help="Ad-hoc template: 1..100")] = None,
    loop_mode: LoopModeOpt = None,
    loop_count: LoopCountOpt = None,
    seam_window: SeamWindowOpt = None,
    highlight: HighlightOpt = None,
    max_size: MaxSizeOpt = None,
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
    """Make animated images from a segment of VIDEO through the queue and print the event.

    The template options (--format, --fps, --max-size, --loop-mode...) make an ad-hoc
    template, run beside any --definition given.
    """
    mark("started")
    settings = Settings()
    definitions = list(definition or [])
    extra = output_fields(fmt, max_size)
    extra |= loop_fields(loop_mode, loop_count, seam_window, highlight)
    adhoc = any(v is not None for v in (fps, quality)) or width or height or extra
    if procedure and (definitions or adhoc):
        raise typer.BadParameter("--procedure replaces --definition and the template options")
    if output and (procedure or len(definitions) + bool(adhoc) > 1):
        raise typer.BadParameter("--output names one file: use --output-dir for several images")
    try:
        with connected(settings) as client:
            mark("connected")
            if not procedure and (adhoc or not definitions):
                definitions.append(_template_definition(client, fps, width, height, quality, extra))
            mark("template")
            client.media.probe = timed_probe(client.media.probe)
            media = client.register_media(video)
            mark("registered")
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
            mark("enqueued")
            err.print(f"TaskId {task_id}")
            task = _show_progress(task_id, client)
            mark("waited")
            event = client.task_event(task_id)
            budgets = _budgets(client, task)
            mark("read")
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
        mark("copied")
        seam = "" if sub.output.seam_score is None else f", seam {sub.output.seam_score:.2f}"
        fitted = fitted_summary(sub.output, budgets.get(sub.output.definition, 0))
        err.print(
            f"[green]Wrote {dest}[/]: {sub.output.width}x{sub.output.height}, "
            f"{sub.output.size} bytes, {sub.output.start_time_offset:g}-"
            f"{sub.output.end_time_offset:g} s, {sub.output.loop_mode}{seam}"
            + (f"; {fitted}" if fitted else "")
        )
    body = json.dumps(event.wire() if event else {}, indent=2)
    print_json(body)
    if event_file:
        event_file.write_text(body + "\n")
    mark("end")
    if failed:
        raise typer.Exit(1)
