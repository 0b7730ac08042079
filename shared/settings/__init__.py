"""The settings tree: a few top-level settings and one group per subsystem (``groups``), every
setting read from its own ``ANIMGRAPH_*`` variable, the same names as when the settings were flat.

Nothing here opens a socket: the Redis client, the Celery app and the storage are built from a
``Settings`` object by the code that needs them. ``table`` lists every setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from animgraph.shared.settings.environ import EnvironmentSource, merged, values_from
from animgraph.shared.settings.groups import (
    ApiSettings,
    ConsoleSettings,
    EventSettings,
    FlowerSettings,
    LimitSettings,
    PushSettings,
    ReconcilerSettings,
    SplitSettings,
    StorageSettings,
    TestingSettings,
    UploadSettings,
    WorkerSettings,
)

if TYPE_CHECKING:
    from animgraph.shared.storage import Storage

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Deployment settings: a few top-level ones and a group per subsystem.

    ``Settings()`` reads every ``ANIMGRAPH_*`` variable of the process; keywords go on top,
    merged into the groups (``Settings(redis_url=url, worker={"max_attempts": 1})`` keeps the
    other worker settings of the environment).
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    redis_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_REDIS_URL",
        description="State (and broker) Redis: `redis://host:6379/0`, or Sentinels "
        "`sentinel://h1:26379;sentinel://h2:26379/0`; unset: the CLI starts an embedded Redis, "
        "its files below the data dir",
    )
    redis_sentinel_master: str = Field(
        default="mymaster",
        min_length=1,
        validation_alias="ANIMGRAPH_REDIS_SENTINEL_MASTER",
        description="The master's name when `ANIMGRAPH_REDIS_URL` names Sentinels "
        "(`sentinel://h1:26379;sentinel://h2:26379/0`)",
    )
    redis_ack_replicas: int | None = Field(
        default=None,
        ge=0,
        validation_alias="ANIMGRAPH_REDIS_ACK_REPLICAS",
        description="Replicas that must have a procedure (Redis `WAIT`) before `ProcessMedia` "
        "answers, and a final event before its push; unset: 1 behind Sentinel, else 0",
    )
    redis_ack_timeout_ms: int = Field(
        default=2000,
        ge=1,
        validation_alias="ANIMGRAPH_REDIS_ACK_TIMEOUT_MS",
        description="How long to wait for those replicas (then answer anyway, with a warning)",
    )
    broker_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_BROKER_URL",
        description="The Celery broker, when not the Redis: `amqp://user:pass@host:5672/vhost` "
        "(RabbitMQ); task state stays in Redis",
    )
    data_dir: Path = Field(
        default=Path("var"),
        validation_alias="ANIMGRAPH_DATA_DIR",
        description="Local working folder: scratch, the embedded Redis, the default storage",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias="ANIMGRAPH_LOG_FORMAT",
        description="`text` (for people) or `json`: one JSON object a line on stderr from the "
        "workers (Celery's own lines included; a step's lines carry `TaskId`, `index`, `step` "
        "and `duration_s`) and the API",
    )
    task_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=3 * 24 * 3600,
        validation_alias="ANIMGRAPH_TASK_TTL_S",
        description="How long a task's records stay in Redis (7 days, at least 3)",
    )
    storage: StorageSettings = Field(default_factory=StorageSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    reconciler: ReconcilerSettings = Field(default_factory=ReconcilerSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    flower: FlowerSettings = Field(default_factory=FlowerSettings)
    testing: TestingSettings = Field(default_factory=TestingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keywords first, then the process environment; no .env file, no secrets folder.
        return init_settings, EnvironmentSource(settings_cls)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **values: Any) -> Settings:
        """The settings of a process whose environment also holds ``environ`` (those variables
        over this process's), with ``values`` on top: the settings of a worker started with
        ``environ``, as a test sees them."""
        return cls.model_validate(merged(values_from(cls, environ, values), values))

    def updated(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied as the constructor takes them (a dict merges into its
        group: ``updated(api={"public_url": url})``), validated again."""
        return type(self).model_validate(merged(self.model_dump(), changes))

    @property
    def resolved_storage_url(self) -> str:
        """The storage URL, defaulting to a folder below ``data_dir``."""
        if self.storage.url:
            return self.storage.url
        return (self.data_dir / "storage").resolve().as_uri()

    @property
    def ack_replicas(self) -> int:
        """Replicas to wait for after accepting a procedure or publishing a final event."""
        if self.redis_ack_replicas is not None:
            return self.redis_ack_replicas
        return 1 if (self.redis_url or "").strip().lower().startswith("sentinel://") else 0

    def broker_for(self, redis_url: str) -> str:
        """The broker URL of a stack whose Redis is ``redis_url``."""
        return self.broker_url or redis_url

    @property
    def broker_is_amqp(self) -> bool:
        """True when the broker is a RabbitMQ (leases need no restore sweep there: it requeues
        a dead consumer's messages itself)."""
        return (self.broker_url or "").lower().startswith(("amqp://", "amqps://", "pyamqp://"))

    @property
    def stuck_processing_s(self) -> int:
        """After how long without activity the reconciler finishes a PROCESSING task."""
        worker = self.worker
        return self.reconciler.stuck_after_s or (
            worker.visibility_timeout_s + worker.time_limit_s + 60
        )

    def open_storage(self) -> Storage:
        """The storage these settings name, giving HTTP URLs when ``api.public_url`` is set."""
        from animgraph.shared.storage import open_storage  # storage imports this package

        return open_storage(
            self.resolved_storage_url, public_url=self.api.public_url, s3=self.storage.s3
        )
