"""The groups of the settings tree, one per subsystem: each field names its ``ANIMGRAPH_*``
variable (``validation_alias``), its default, its bounds and what it does."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "ApiSettings",
    "ConsoleSettings",
    "EventSettings",
    "FlowerSettings",
    "LimitSettings",
    "PushSettings",
    "ReconcilerSettings",
    "S3Options",
    "SplitSettings",
    "StorageSettings",
    "TestingSettings",
    "UploadSettings",
    "WorkerSettings",
]


class _Group(BaseModel):
    """Every group: immutable, set by field name (``Settings(worker={"max_attempts": 1})``) or
    by variable name, and a misspelt key is an error rather than a silently ignored value."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )


class S3Options(_Group):
    """Connection and URL options of ``S3Storage``, each read from its ``ANIMGRAPH_S3_*``
    variable as ``settings.storage.s3``; unset (``None``) falls back to boto3's own chain
    (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``, ... ~/.aws, roles)."""

    endpoint_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_ENDPOINT_URL",
        description="S3 API endpoint (MinIO, Ceph: `http://minio:9000`), path-style addressing "
        "when set; unset: `AWS_ENDPOINT_URL`, else AWS",
    )
    region: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_REGION",
        description="Region; unset: `AWS_DEFAULT_REGION`",
    )
    access_key_id: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_ACCESS_KEY_ID",
        description="Access key; unset: `AWS_ACCESS_KEY_ID`, `~/.aws` or an instance role",
    )
    secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_SECRET_ACCESS_KEY",
        description="Secret key (never shown); unset: `AWS_SECRET_ACCESS_KEY`, `~/.aws` or an "
        "instance role",
    )
    url_mode: Literal["presigned", "public"] = Field(
        default="presigned",
        validation_alias="ANIMGRAPH_S3_URL_MODE",
        description="`Url`, `FileUrl` and `MediaUrl`: `presigned` GETs, or `public` plain URLs "
        "of a public-read bucket",
    )
    url_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        validation_alias="ANIMGRAPH_S3_URL_EXPIRY_S",
        description="Life of a presigned URL (at most 7 days, the SigV4 maximum)",
    )
    public_base_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_PUBLIC_BASE_URL",
        description="Public mode: URLs are `<base>/<object key>` (a CDN, a website endpoint); "
        "unset: `<endpoint>/<bucket>`",
    )
    public_endpoint_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_S3_PUBLIC_ENDPOINT_URL",
        description="Presigned mode: the endpoint as users reach it, signed into the URLs "
        "(`http://localhost:9000` when workers use `http://minio:9000`); unset: the endpoint",
    )


class StorageSettings(_Group):
    """Where sources, intermediate frames and outputs live."""

    url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_STORAGE_URL",
        description="`file:///folder`, `s3://bucket/prefix` or `memory://name` (tests only); "
        "unset: `file://<data dir>/storage`",
    )
    s3: S3Options = Field(default_factory=S3Options)


class ApiSettings(_Group):
    """The HTTP API: who may call it and where users reach it."""

    keys: str = Field(
        default="",
        validation_alias="ANIMGRAPH_API_KEYS",
        description="`SecretId:SecretKey[,SecretId:SecretKey...]`; empty: the API refuses to "
        "start (`animgraph up` makes a pair)",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_PUBLIC_URL",
        description="Base URL of the HTTP API (`http://host:port`): outputs and sources are then "
        "given as `<public url>/files/<key>`, not `file://` URLs (`api` and `up` set it)",
    )
    tls_cert_file: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_API_TLS_CERT_FILE",
        description="PEM certificate (chain) for `animgraph api`/`up` to serve HTTPS itself; "
        "set with `ANIMGRAPH_API_TLS_KEY_FILE`, or neither for plain HTTP (behind a TLS proxy)",
    )
    tls_key_file: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_API_TLS_KEY_FILE",
        description="PEM private key of `ANIMGRAPH_API_TLS_CERT_FILE`",
    )


class UploadSettings(_Group):
    """Uploads through ``ApplyUpload`` / ``CommitUpload`` and the console."""

    ttl_s: int = Field(
        default=3600,
        ge=60,
        validation_alias="ANIMGRAPH_UPLOAD_TTL_S",
        description="Life of an `ApplyUpload` session",
    )
    max_bytes: int = Field(
        default=1 << 30,
        ge=1,
        validation_alias="ANIMGRAPH_MAX_UPLOAD_BYTES",
        description="Largest accepted upload (1 GiB), refused from `Content-Length`",
    )


class ConsoleSettings(_Group):
    """The web console (``/console/``)."""

    password: str = Field(
        default="",
        validation_alias="ANIMGRAPH_CONSOLE_PASSWORD",
        description="Password of the web console; an API key pair of `ANIMGRAPH_API_KEYS` "
        "also signs in",
    )
    session_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        validation_alias="ANIMGRAPH_CONSOLE_SESSION_TTL_S",
        description="Life of a console sign-in, idle or not (8 h)",
    )


class WorkerSettings(_Group):
    """How Celery runs and redelivers the steps; the delivery settings must match on every host."""

    concurrency: int | None = Field(
        default=None,
        ge=1,
        validation_alias="ANIMGRAPH_WORKER_CONCURRENCY",
        description="Processes per `animgraph worker` (`-c` overrides); unset: one per core",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        validation_alias="ANIMGRAPH_WORKER_THREADS",
        description="Threads one job may use (decode, GIF coding, WebP runs, video encoders); "
        "unset: the worker's cores (affinity, cgroup CPU quota) / its processes, at least 1",
    )
    max_memory_per_child_kib: int = Field(
        default=1_500_000,
        ge=100_000,
        validation_alias="ANIMGRAPH_WORKER_MAX_MEMORY_PER_CHILD_KIB",
        description="A pool process above this resident size (KiB) is replaced after its step",
    )
    soft_time_limit_s: int = Field(
        default=540,
        ge=1,
        validation_alias="ANIMGRAPH_SOFT_TIME_LIMIT_S",
        description="A step running this long fails its subtask",
    )
    time_limit_s: int = Field(
        default=600,
        ge=2,
        validation_alias="ANIMGRAPH_TIME_LIMIT_S",
        description="A step running this long has its process replaced; the chord's error "
        "callback finishes the task",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        validation_alias="ANIMGRAPH_MAX_ATTEMPTS",
        description="Deliveries of one step before its subtask fails with `InternalError` "
        "(a step that kills its worker every time)",
    )
    visibility_timeout_s: int = Field(
        default=3600,
        ge=10,
        validation_alias="ANIMGRAPH_VISIBILITY_TIMEOUT_S",
        description="A task taken by a lost worker is delivered again after this long; the same "
        "on every host, above the longest step",
    )
    unacked_restore_interval_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S",
        description="How often unacknowledged tasks are checked against the visibility timeout",
    )
    lease_s: float = Field(
        default=30.0,
        ge=1,
        validation_alias="ANIMGRAPH_WORKER_LEASE_S",
        description="A worker silent this long (no heartbeat) is lost: its steps run again "
        "elsewhere, and a worker cut off from Redis this long stops its own",
    )
    alive_file: str | None = Field(
        default=None,
        validation_alias="ANIMGRAPH_WORKER_ALIVE_FILE",
        description="File the worker's consumer loop touches every 2 s, removed when it stops "
        "(`animgraph worker-alive` checks its age); unset: `<data dir>/worker.alive`",
    )
    shutdown_grace_s: int | None = Field(
        default=None,
        ge=0,
        validation_alias="ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S",
        description="On SIGTERM a worker takes no new step and lets its running steps finish for "
        "this long, then hands them back to their queues at once and exits; unset: "
        "`ANIMGRAPH_TIME_LIMIT_S` (no step outlives it anyway)",
    )

    @property
    def grace_s(self) -> int:
        """How long a worker told to stop lets its running steps finish."""
        return self.time_limit_s if self.shutdown_grace_s is None else self.shutdown_grace_s


class ReconcilerSettings(_Group):
    """The reconciler thread of every worker, which finishes tasks nobody works on."""

    interval_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="ANIMGRAPH_RECONCILE_INTERVAL_S",
        description="How often the reconciler (one worker at a time) looks for stuck tasks",
    )
    stuck_after_s: int | None = Field(
        default=None,
        ge=1,
        validation_alias="ANIMGRAPH_STUCK_AFTER_S",
        description="A PROCESSING task with no activity this long is finished as failed; unset: "
        "visibility timeout + time limit + 60 s, so redelivery gets its chance first",
    )
    stuck_waiting_s: int = Field(
        default=24 * 3600,
        ge=1,
        validation_alias="ANIMGRAPH_STUCK_WAITING_S",
        description="A WAITING task never started this long is finished as failed (24 h)",
    )


class SplitSettings(_Group):
    """Time slicing: a long segment is encoded in slices on several workers at once."""

    min_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="ANIMGRAPH_SPLIT_MIN_S",
        description="Segments at least this long are encoded in time slices",
    )
    slice_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="ANIMGRAPH_SPLIT_SLICE_S",
        description="Length of one time slice (rounded to a whole number of output frames)",
    )


class LimitSettings(_Group):
    """What one request or one deployment may ask for."""

    max_source_duration_s: float = Field(
        default=6 * 3600,
        gt=0,
        validation_alias="ANIMGRAPH_MAX_SOURCE_DURATION_S",
        description="Longer videos are refused from their headers (6 h)",
    )
    max_frame_pixels: int = Field(
        default=8192 * 8192,
        gt=0,
        validation_alias="ANIMGRAPH_MAX_FRAME_PIXELS",
        description="Larger source frames (8192 x 8192) fail with "
        "`SourceFileError.ContentUnsupported`, refused from the headers",
    )
    max_output_frames: int = Field(
        default=3000,
        ge=1,
        validation_alias="ANIMGRAPH_MAX_OUTPUT_FRAMES",
        description="Frames per output image; more are thinned to this many, evenly spaced",
    )
    max_templates: int = Field(
        default=100,
        ge=1,
        validation_alias="ANIMGRAPH_MAX_TEMPLATES",
        description="Custom animated graphics templates, then `LimitExceeded.TooMuchTemplate`",
    )
    max_procedure_templates: int = Field(
        default=100,
        ge=1,
        validation_alias="ANIMGRAPH_MAX_PROCEDURE_TEMPLATES",
        description="Task flows, then `LimitExceeded.TooMuchTemplate`",
    )


class EventSettings(_Group):
    """The event stream (``PullEvents`` / ``ConfirmEvents``)."""

    redelivery_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias="ANIMGRAPH_EVENT_REDELIVERY_S",
        description="A pulled event not confirmed in this time is handed out again",
    )
    retention_s: int = Field(
        default=4 * 24 * 3600,
        ge=60,
        validation_alias="ANIMGRAPH_EVENT_RETENTION_S",
        description="How long events and push records are kept (4 days)",
    )


class PushSettings(_Group):
    """Delivery of events to a ``NotificationUrl`` (PUSH mode)."""

    retry_window_s: int = Field(
        default=25 * 3600,
        ge=1,
        validation_alias="ANIMGRAPH_PUSH_RETRY_WINDOW_S",
        description="How long a push is retried before it is given up (25 h)",
    )
    backoff_base_s: float = Field(
        default=2.0,
        gt=0,
        validation_alias="ANIMGRAPH_PUSH_BACKOFF_BASE_S",
        description="First delay before a push is retried, doubling each time (with jitter)",
    )
    backoff_max_s: float = Field(
        default=600.0,
        gt=0,
        validation_alias="ANIMGRAPH_PUSH_BACKOFF_MAX_S",
        description="Longest delay between two tries of a push",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias="ANIMGRAPH_PUSH_TIMEOUT_S",
        description="Timeout of one push POST",
    )
    sign_key: str = Field(
        default="",
        validation_alias="ANIMGRAPH_CALLBACK_SIGN_KEY",
        description="HMAC-SHA256 key; set, every push carries `X-Animgraph-Signature: v1=<hex>`",
    )
    allow_hosts: tuple[str, ...] = Field(
        default=(),
        validation_alias="ANIMGRAPH_CALLBACK_ALLOW_HOSTS",
        description="Hosts a NotificationUrl may name even if they resolve to private addresses "
        "(comma list)",
    )
    allow_private: bool = Field(
        default=False,
        validation_alias="ANIMGRAPH_CALLBACK_ALLOW_PRIVATE",
        description="NotificationUrls may reach loopback, link-local and private addresses",
    )

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value


class FlowerSettings(_Group):
    """Flower, the Celery dashboard (``animgraph flower``, ``animgraph up``)."""

    basic_auth: SecretStr = Field(
        default=SecretStr(""),
        validation_alias="ANIMGRAPH_FLOWER_BASIC_AUTH",
        description="`user:password` of Flower's basic auth (`--basic-auth` overrides); empty: "
        "`flower` is open, `up` makes a password",
    )


class TestingSettings(_Group):
    """Hooks for the test suite only."""

    __test__ = False  # not a pytest test class, whatever its name

    fault_injection: str = Field(
        default="",
        validation_alias="ANIMGRAPH_FAULT_INJECTION",
        description="Test hook only: `<step>:kill` makes that step kill its own worker process, "
        "`<step>:sleep:<s>` makes it slow; `notify:kill-before-claim` / `notify:kill-after-claim` "
        "kill the notifier once per task around its final event",
    )
