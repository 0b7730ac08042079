"""``animgraph flows``: create, reset, list, show and delete task flows."""

from __future__ import annotations

from typing import Annotated

import typer

from animgraph.shared.models import AnimatedGraphicTaskInput
from animgraph.shared.settings import Settings

from .common import err, given, print_model, state_only

__all__ = ["flows_app"]

flows_app = typer.Typer(help="Task flows: named, saved sets of animated-image tasks.")

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
    with state_only(Settings()) as client:
        print_model(client.create_procedure_template(_flow_request(name, task, comment)))


@flows_app.command("reset")
def flows_reset(name: str, task: TaskOpt, comment: str = "") -> None:
    """Replace the tasks of a task flow."""
    with state_only(Settings()) as client:
        print_model(client.reset_procedure_template(_flow_request(name, task, comment)))


@flows_app.command("list")
def flows_list(
    name: Annotated[list[str] | None, typer.Option("--name")] = None,
    offset: int = 0,
    limit: int = 10,
) -> None:
    """List task flows, with TotalCount."""
    with state_only(Settings()) as client:
        print_model(
            client.describe_procedure_templates(given(names=name, offset=offset, limit=limit))
        )


@flows_app.command("show")
def flows_show(name: str) -> None:
    """Show one task flow."""
    with state_only(Settings()) as client:
        print_model(client.get_procedure_template(name))


@flows_app.command("delete")
def flows_delete(name: str) -> None:
    """Delete a task flow."""
    with state_only(Settings()) as client:
        client.delete_procedure_template(name)
        err.print(f"Deleted task flow {name}")
