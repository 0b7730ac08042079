"""``animgraph events``: the PUSH/PULL configuration, pulling and confirming events."""

from __future__ import annotations

from typing import Annotated

import typer

from animgraph.shared.settings import Settings

from .common import err, given, print_model, state_only

__all__ = ["events_app"]

events_app = typer.Typer(help="Event delivery: PUSH callbacks or the PULL queue.")


@events_app.command("config")
def events_config(
    mode: Annotated[str | None, typer.Option(help="PUSH or PULL")] = None,
    url: Annotated[str | None, typer.Option("--url", help="NotificationUrl for PUSH")] = None,
) -> None:
    """Show the event configuration, or change it with --mode/--url."""
    with state_only(Settings()) as client:
        if mode is None and url is None:
            print_model(client.describe_event_config())
        else:
            print_model(client.modify_event_config(given(mode=mode, notification_url=url)))


@events_app.command("pull")
def events_pull(
    wait: Annotated[float, typer.Option(help="Seconds to wait for an event")] = 5.0,
    confirm: Annotated[bool, typer.Option(help="Confirm what was pulled")] = False,
) -> None:
    """Pull up to 16 events (JSON with EventHandles); unconfirmed ones come again after 30 s."""
    with state_only(Settings()) as client:
        pulled = client.pull_events(wait_s=wait)
        print_model(pulled)
        handles = [e.event_handle for e in pulled.event_set if e.event_handle]
        if confirm and handles:
            client.confirm_events({"EventHandles": handles})
            err.print(f"Confirmed {len(handles)} event(s)")


@events_app.command("confirm")
def events_confirm(handles: list[str]) -> None:
    """Confirm pulled events by their EventHandles."""
    with state_only(Settings()) as client:
        client.confirm_events({"EventHandles": handles})
        err.print(f"Confirmed {len(handles)} event(s)")
