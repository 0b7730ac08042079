"""Event delivery: the PUSH/PULL configuration, pulling and confirming, and publishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from animgraph.shared.errors import ApiError
from animgraph.shared.events import check_callback_url
from animgraph.shared.models import (
    ConfirmEventsRequest,
    EventConfig,
    EventContent,
    ModifyEventConfigRequest,
    PullEventsResponse,
)
from animgraph.shared.settings import Settings
from animgraph.shared.state.events import EventBus
from animgraph.shared.tasknames import DEFAULT_TASKS_PRIORITY, DELIVER, IO_QUEUE, message_priority

from ..sender import Sender
from .validation import parse

__all__ = ["EventService"]


class EventService:
    """ModifyEventConfig, DescribeEventConfig, PullEvents, ConfirmEvents, and publishing."""

    def __init__(self, settings: Settings, bus: EventBus, sender: Sender) -> None:
        self.settings = settings
        self.bus = bus
        self.sender = sender

    def modify_config(self, request: ModifyEventConfigRequest | Mapping[str, Any]) -> EventConfig:
        """ModifyEventConfig: PUSH to a NotificationUrl, or PULL; the given fields change."""
        req = parse(ModifyEventConfigRequest, request)
        config = EventConfig.model_validate(
            {**self.bus.config().model_dump(), **req.model_dump(exclude_none=True)}
        )
        if config.mode == "PUSH":
            if not config.notification_url:
                raise ApiError(
                    "PUSH mode needs a NotificationUrl", "InvalidParameterValue.NotificationUrl"
                )
            check_callback_url(
                config.notification_url,
                self.settings.push.allow_hosts,
                self.settings.push.allow_private,
            )
        self.bus.set_config(config)
        return config

    def describe_config(self) -> EventConfig:
        """DescribeEventConfig."""
        return self.bus.config()

    def pull(self, *, wait_s: float = 5.0) -> PullEventsResponse:
        """PullEvents: up to 16 events with their EventHandles, waiting up to ``wait_s``."""
        return PullEventsResponse(event_set=tuple(self.bus.pull(wait_s=wait_s)))

    def confirm(self, request: ConfirmEventsRequest | Mapping[str, Any]) -> None:
        """ConfirmEvents: acknowledge pulled events (late or unknown handles are refused)."""
        req = parse(ConfirmEventsRequest, request)
        refused = self.bus.confirm(req.event_handles)
        if refused:
            raise ApiError(
                f"EventHandles {', '.join(refused)} were handed out again or are unknown; the "
                "others are confirmed",
                "InvalidParameterValue.EventHandles",
            )

    def publish(self, key: str, event: EventContent) -> None:
        """Record an event for pulling and, in PUSH mode, send it to the io queue."""
        seq = self.bus.publish(key, event)
        if seq is not None:
            priority = message_priority(DEFAULT_TASKS_PRIORITY, amqp=self.settings.broker_is_amqp)
            self.sender.send(DELIVER, [key, seq], queue=IO_QUEUE, priority=priority)
