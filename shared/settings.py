"""One typed settings tree, read from ``ANIMGRAPH_*`` environment variables once at start.

Nothing here opens a socket: the Redis client, the Celery app and the storage are built from
a ``Settings`` object by the code that needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from animgraph.shared.storage import Storage

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Deployment settings. Every field can be set as ``ANIMGRAPH_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="ANIMGRAPH_", frozen=True, extra="ignore")

    redis_url: str | None = Field(
        default=None,
        description="Broker and state Redis, e.g. redis://host:6379/0. Unset: the CLI starts "
        "an embedded Redis for one run.",
    )
    data_dir: Path = Field(default=Path("var"), description="Local working directory.")
    storage_url: str | None = Field(
        default=None,
        description="Where sources, frames and outputs live; default file://<data_dir>/storage",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL of the HTTP API (http://host:port): outputs and sources are then "
        "given as <public_url>/files/<key> instead of file:// URLs",
    )
    api_keys: str = Field(default="", description="SecretId:SecretKey[,SecretId:SecretKey...]")
    upload_ttl_s: int = Field(default=3600, ge=60, description="Life of an ApplyUpload session")
    max_upload_bytes: int = Field(default=1 << 30, ge=1, description="Largest accepted upload")
    event_redelivery_s: float = Field(
        default=30.0, gt=0, description="A pulled event not confirmed in this time comes again"
    )
    event_retention_s: int = Field(default=4 * 24 * 3600, ge=60)
    push_retry_window_s: int = Field(
        default=25 * 3600, ge=1, description="How long a push is retried before it is given up"
    )
    push_backoff_base_s: float = Field(default=2.0, gt=0)
    push_backoff_max_s: float = Field(default=600.0, gt=0)
    push_timeout_s: float = Field(default=10.0, gt=0)
    callback_sign_key: str = Field(default="", description="HMAC-SHA256 key for push signatures")
    callback_allow_hosts: str = Field(
        default="", description="Hosts a NotificationUrl may name even if private (comma list)"
    )
    callback_allow_private: bool = False
    fault_injection: str = Field(
        default="",
        description="Test hook only: '<step>:kill' makes that step kill its own worker process",
    )
    stuck_after_s: int | None = Field(
        default=None,
        ge=1,
        description="A PROCESSING task with no activity this long is finished as failed "
        "(default: visibility timeout + time limit + 60 s, so redelivery gets its chance)",
    )
    stuck_waiting_s: int = Field(
        default=24 * 3600, ge=1, description="A WAITING task never started this long is failed"
    )
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    split_min_s: float = Field(
        default=30.0,
        gt=0,
        description="Segments at least this long are encoded in time slices on several workers",
    )
    split_slice_s: float = Field(default=10.0, gt=0, description="Length of one time slice")
    visibility_timeout_s: int = Field(default=3600, ge=10, description="Redis redelivery timeout")
    unacked_restore_interval_s: float = Field(default=10.0, gt=0)
    soft_time_limit_s: int = Field(default=540, ge=1)
    time_limit_s: int = Field(default=600, ge=2)
    max_attempts: int = Field(default=3, ge=1, description="Deliveries of one step before it fails")
    max_source_duration_s: float = Field(default=6 * 3600, gt=0)
    max_frame_pixels: int = Field(default=8192 * 8192, gt=0)
    max_output_frames: int = Field(default=3000, ge=1)
    max_templates: int = Field(default=100, ge=1, description="Custom animated graphics templates")
    max_procedure_templates: int = Field(default=100, ge=1, description="Task flows")
    task_ttl_s: int = Field(default=7 * 24 * 3600, ge=3 * 24 * 3600)
    worker_concurrency: int | None = Field(default=None, ge=1)
    worker_max_memory_per_child_kib: int = Field(default=1_500_000, ge=100_000)
    console_password: str = Field(
        default="",
        description="Password of the web console (/console/); an API key pair "
        "of api_keys also signs in",
    )
    console_session_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="Life of a console sign-in (idle or not)"
    )

    @property
    def resolved_storage_url(self) -> str:
        """The storage URL, defaulting to a folder below ``data_dir``."""
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "storage").resolve().as_uri()

    @property
    def stuck_processing_s(self) -> int:
        return self.stuck_after_s or self.visibility_timeout_s + self.time_limit_s + 60

    @property
    def allowed_callback_hosts(self) -> list[str]:
        return [h.strip() for h in self.callback_allow_hosts.split(",") if h.strip()]

    def open_storage(self) -> Storage:
        """The storage these settings name, giving HTTP URLs when ``public_url`` is set."""
        from animgraph.shared.storage import S3Options, open_storage

        secret = self.s3_secret_access_key
        s3 = S3Options(
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
            access_key_id=self.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            url_mode=self.s3_url_mode,
            url_expiry_s=self.s3_url_expiry_s,
            public_base_url=self.s3_public_base_url,
            public_endpoint_url=self.s3_public_endpoint_url,
        )
        return open_storage(self.resolved_storage_url, public_url=self.public_url, s3=s3)

    # --- s3:// storage (unset: boto3's AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, ~/.aws or an instance role) ----------------------------------------
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 API endpoint (MinIO, Ceph: http://minio:9000); unset: AWS"
    )
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_url_mode: Literal["presigned", "public"] = Field(
        default="presigned",
        description="Output and source URLs: presigned GETs, or plain URLs of a public-read bucket",
    )
    s3_url_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=1, le=7 * 24 * 3600, description="Life of a presigned URL"
    )
    s3_public_base_url: str | None = Field(
        default=None,
        description="Public mode: URLs are <base>/<object key>; unset: <endpoint>/<bucket>",
    )
    s3_public_endpoint_url: str | None = Field(
        default=None,
        description="The endpoint as users reach it, signed into presigned URLs (e.g. "
        "http://localhost:9000 when workers use http://minio:9000); unset: s3_endpoint_url",
    )
