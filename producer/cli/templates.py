"""``animgraph templates``: create, change, list, show and delete animated graphics templates."""

from __future__ import annotations

from typing import Annotated

import typer

from animgraph.shared.errors import ApiError
from animgraph.shared.settings import Settings

from .common import err, given, print_model, state_only
from .loop_options import HighlightOpt, LoopCountOpt, LoopModeOpt, SeamWindowOpt, loop_fields
from .output_options import FormatOpt, MaxSizeOpt, output_fields

__all__ = ["templates_app"]

templates_app = typer.Typer(
    help="Animated graphics templates (Definition 20000, 20001, 100001...)."
)

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
    loop_mode: LoopModeOpt = None,
    loop_count: LoopCountOpt = None,
    seam_window: SeamWindowOpt = None,
    highlight: HighlightOpt = None,
    max_size: MaxSizeOpt = None,
) -> None:
    """Create a custom template; prints it with its new Definition."""
    fields = given(
        fps=fps, width=width, height=height, resolution_adaptive=resolution_adaptive,
        quality=quality, name=name, comment=comment,
    )  # fmt: skip
    fields.update(output_fields(fmt, max_size))
    fields.update(loop_fields(loop_mode, loop_count, seam_window, highlight))
    with state_only(Settings()) as client:
        print_model(client.create_animated_graphics_template(fields))


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
    loop_mode: LoopModeOpt = None,
    loop_count: LoopCountOpt = None,
    seam_window: SeamWindowOpt = None,
    highlight: HighlightOpt = None,
    max_size: MaxSizeOpt = None,
) -> None:
    """Change the given fields of a custom template."""
    fields = given(
        definition=definition, fps=fps, width=width, height=height,
        resolution_adaptive=resolution_adaptive, quality=quality, name=name, comment=comment,
    )  # fmt: skip
    fields.update(output_fields(fmt, max_size))
    fields.update(loop_fields(loop_mode, loop_count, seam_window, highlight))
    with state_only(Settings()) as client:
        print_model(client.modify_animated_graphics_template(fields))


@templates_app.command("list")
def templates_list(
    type_: Annotated[str | None, typer.Option("--type", help="Preset or Custom")] = None,
    definition: Annotated[list[int] | None, typer.Option("--definition", "-d")] = None,
    offset: int = 0,
    limit: int = 10,
) -> None:
    """List templates (presets first), with TotalCount."""
    request = given(definitions=definition, type=type_, offset=offset, limit=limit)
    with state_only(Settings()) as client:
        print_model(client.describe_animated_graphics_templates(request))


@templates_app.command("show")
def templates_show(definition: int) -> None:
    """Show one template."""
    with state_only(Settings()) as client:
        found = client.describe_animated_graphics_templates({"Definitions": [definition]})
        if not found.animated_graphics_template_set:
            raise ApiError(
                f"Definition {definition}: no such template", "ResourceNotFound.TemplateNotExist"
            )
        print_model(found.animated_graphics_template_set[0])


@templates_app.command("delete")
def templates_delete(definition: int) -> None:
    """Delete a custom template."""
    with state_only(Settings()) as client:
        client.delete_animated_graphics_template(definition)
        err.print(f"Deleted template {definition}")
