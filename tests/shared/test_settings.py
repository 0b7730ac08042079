"""The settings tree: every ``ANIMGRAPH_*`` variable of the flat settings still sets its field,
bad values name their variable, and the README's configuration table is the tree's."""

from __future__ import annotations

import re
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from animgraph.shared.settings import Settings
from animgraph.shared.settings.table import describe_settings, settings_table
from animgraph.shared.storage import S3Options

README = Path(__file__).resolve().parents[2] / "README.md"

# Every variable users may have set, with its place in the tree, a value to set and what the
# field then holds. The first 45 are those of the flat settings: none may change its name
# (one case a line, as tables of cases read best).
# fmt: off
VARIABLES: list[tuple[str, str, str, Any]] = [
    ("ANIMGRAPH_REDIS_URL", "redis_url", "redis://h:1/2", "redis://h:1/2"),
    ("ANIMGRAPH_REDIS_SENTINEL_MASTER", "redis_sentinel_master", "cache", "cache"),
    ("ANIMGRAPH_REDIS_ACK_REPLICAS", "redis_ack_replicas", "2", 2),
    ("ANIMGRAPH_REDIS_ACK_TIMEOUT_MS", "redis_ack_timeout_ms", "500", 500),
    ("ANIMGRAPH_BROKER_URL", "broker_url", "amqp://g:g@h:5672//", "amqp://g:g@h:5672//"),
    ("ANIMGRAPH_DATA_DIR", "data_dir", "/srv/animgraph", Path("/srv/animgraph")),
    ("ANIMGRAPH_STORAGE_URL", "storage.url", "s3://b/p", "s3://b/p"),
    ("ANIMGRAPH_PUBLIC_URL", "api.public_url", "http://api:8000", "http://api:8000"),
    ("ANIMGRAPH_API_KEYS", "api.keys", "AKIDa:k", "AKIDa:k"),
    ("ANIMGRAPH_UPLOAD_TTL_S", "uploads.ttl_s", "120", 120),
    ("ANIMGRAPH_MAX_UPLOAD_BYTES", "uploads.max_bytes", "1000", 1000),
    ("ANIMGRAPH_EVENT_REDELIVERY_S", "events.redelivery_s", "2.5", 2.5),
    ("ANIMGRAPH_EVENT_RETENTION_S", "events.retention_s", "600", 600),
    ("ANIMGRAPH_PUSH_RETRY_WINDOW_S", "push.retry_window_s", "60", 60),
    ("ANIMGRAPH_PUSH_BACKOFF_BASE_S", "push.backoff_base_s", "0.3", 0.3),
    ("ANIMGRAPH_PUSH_BACKOFF_MAX_S", "push.backoff_max_s", "1.5", 1.5),
    ("ANIMGRAPH_PUSH_TIMEOUT_S", "push.timeout_s", "20", 20.0),
    ("ANIMGRAPH_CALLBACK_SIGN_KEY", "push.sign_key", "sign", "sign"),
    ("ANIMGRAPH_CALLBACK_ALLOW_HOSTS", "push.allow_hosts", "a.test, b.test", ("a.test", "b.test")),
    ("ANIMGRAPH_CALLBACK_ALLOW_PRIVATE", "push.allow_private", "true", True),
    ("ANIMGRAPH_FAULT_INJECTION", "testing.fault_injection", "encode:kill", "encode:kill"),
    ("ANIMGRAPH_STUCK_AFTER_S", "reconciler.stuck_after_s", "4", 4),
    ("ANIMGRAPH_STUCK_WAITING_S", "reconciler.stuck_waiting_s", "5", 5),
    ("ANIMGRAPH_RECONCILE_INTERVAL_S", "reconciler.interval_s", "1", 1.0),
    ("ANIMGRAPH_SPLIT_MIN_S", "split.min_s", "3", 3.0),
    ("ANIMGRAPH_SPLIT_SLICE_S", "split.slice_s", "2", 2.0),
    ("ANIMGRAPH_VISIBILITY_TIMEOUT_S", "worker.visibility_timeout_s", "10", 10),
    ("ANIMGRAPH_UNACKED_RESTORE_INTERVAL_S", "worker.unacked_restore_interval_s", "1", 1.0),
    ("ANIMGRAPH_SOFT_TIME_LIMIT_S", "worker.soft_time_limit_s", "3", 3),
    ("ANIMGRAPH_TIME_LIMIT_S", "worker.time_limit_s", "6", 6),
    ("ANIMGRAPH_MAX_ATTEMPTS", "worker.max_attempts", "1", 1),
    ("ANIMGRAPH_MAX_SOURCE_DURATION_S", "limits.max_source_duration_s", "60", 60.0),
    ("ANIMGRAPH_MAX_FRAME_PIXELS", "limits.max_frame_pixels", "100", 100),
    ("ANIMGRAPH_MAX_OUTPUT_FRAMES", "limits.max_output_frames", "10", 10),
    ("ANIMGRAPH_MAX_TEMPLATES", "limits.max_templates", "2", 2),
    ("ANIMGRAPH_MAX_PROCEDURE_TEMPLATES", "limits.max_procedure_templates", "3", 3),
    ("ANIMGRAPH_TASK_TTL_S", "task_ttl_s", "300000", 300000),
    ("ANIMGRAPH_WORKER_CONCURRENCY", "worker.concurrency", "2", 2),
    ("ANIMGRAPH_WORKER_LEASE_S", "worker.lease_s", "5", 5.0),
    ("ANIMGRAPH_WORKER_ALIVE_FILE", "worker.alive_file", "/run/animgraph/worker.alive", "/run/animgraph/worker.alive"),
    ("ANIMGRAPH_WORKER_MAX_MEMORY_PER_CHILD_KIB", "worker.max_memory_per_child_kib", "200000", 200000),
    ("ANIMGRAPH_CONSOLE_PASSWORD", "console.password", "pw", "pw"),
    ("ANIMGRAPH_CONSOLE_SESSION_TTL_S", "console.session_ttl_s", "60", 60),
    ("ANIMGRAPH_S3_ENDPOINT_URL", "storage.s3.endpoint_url", "http://minio:9000", "http://minio:9000"),
    ("ANIMGRAPH_S3_REGION", "storage.s3.region", "eu-west-1", "eu-west-1"),
    ("ANIMGRAPH_S3_ACCESS_KEY_ID", "storage.s3.access_key_id", "AKIA", "AKIA"),
    ("ANIMGRAPH_S3_SECRET_ACCESS_KEY", "storage.s3.secret_access_key", "s3cret", SecretStr("s3cret")),
    ("ANIMGRAPH_S3_URL_MODE", "storage.s3.url_mode", "public", "public"),
    ("ANIMGRAPH_S3_URL_EXPIRY_S", "storage.s3.url_expiry_s", "600", 600),
    ("ANIMGRAPH_S3_PUBLIC_BASE_URL", "storage.s3.public_base_url", "https://cdn.test", "https://cdn.test"),
    ("ANIMGRAPH_S3_PUBLIC_ENDPOINT_URL", "storage.s3.public_endpoint_url", "http://localhost:9000", "http://localhost:9000"),
    # New: Flower's auth was read from the environment beside the settings.
    ("ANIMGRAPH_FLOWER_BASIC_AUTH", "flower.basic_auth", "admin:pw", SecretStr("admin:pw")),
    # New: TLS served by `animgraph api` itself.
    ("ANIMGRAPH_API_TLS_CERT_FILE", "api.tls_cert_file", "/tls/cert.pem", "/tls/cert.pem"),
    ("ANIMGRAPH_API_TLS_KEY_FILE", "api.tls_key_file", "/tls/key.pem", "/tls/key.pem"),
    # New: operations (issue 21): JSON logs, the shutdown grace.
    ("ANIMGRAPH_LOG_FORMAT", "log_format", "json", "json"),
    ("ANIMGRAPH_WORKER_SHUTDOWN_GRACE_S", "worker.shutdown_grace_s", "30", 30),
    # New: threads per job (issue 22).
    ("ANIMGRAPH_WORKER_THREADS", "worker.threads", "1", 1),
]
# fmt: on


def _at(settings: Settings, path: str) -> Any:
    return reduce(getattr, path.split("."), settings)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ANIMGRAPH_* variable of the machine running the tests leaks in."""
    import os

    for name in [n for n in os.environ if n.upper().startswith("ANIMGRAPH_")]:
        monkeypatch.delenv(name)


def test_the_tree_has_every_variable_once() -> None:
    listed = [(s.variable, s.path) for s in describe_settings()]
    assert sorted(listed) == sorted((v, p) for v, p, _, _ in VARIABLES)
    assert all(s.description for s in describe_settings()), "every setting says what it does"


@pytest.mark.parametrize(("variable", "path", "raw", "expected"), VARIABLES)
def test_every_variable_sets_its_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, path: str, raw: str, expected: Any
) -> None:
    assert _at(Settings(), path) != expected, "the sample differs from the default"
    monkeypatch.setenv(variable, raw)
    assert _at(Settings(), path) == expected


def test_variable_names_match_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("animgraph_push_timeout_s", "3")
    assert Settings().push.timeout_s == 3


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_VISIBILITY_TIMEOUT_S", "soon")
    with pytest.raises(ValidationError, match=r"worker\.ANIMGRAPH_VISIBILITY_TIMEOUT_S\n"):
        Settings()


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("ANIMGRAPH_S3_URL_MODE", "private")
    monkeypatch.setenv("ANIMGRAPH_TASK_TTL_S", "60")
    with pytest.raises(ValidationError) as info:
        Settings()
    where = sorted(".".join(map(str, e["loc"])) for e in info.value.errors())
    assert where == [
        "ANIMGRAPH_TASK_TTL_S",
        "storage.s3.ANIMGRAPH_S3_URL_MODE",
        "worker.ANIMGRAPH_MAX_ATTEMPTS",
    ]


def test_keywords_win_and_merge_into_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_REDIS_URL", "redis://env")
    monkeypatch.setenv("ANIMGRAPH_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("ANIMGRAPH_VISIBILITY_TIMEOUT_S", "99")
    settings = Settings(redis_url="redis://kw", data_dir="d", worker={"visibility_timeout_s": 10})
    assert (settings.redis_url, settings.data_dir) == ("redis://kw", Path("d"))
    assert settings.worker.visibility_timeout_s == 10
    assert settings.worker.max_attempts == 5, "the environment fills the rest of the group"
    whole = Settings(worker=settings.worker.model_copy(update={"max_attempts": 2}))
    assert (whole.worker.max_attempts, whole.worker.visibility_timeout_s) == (2, 10)


def test_unknown_and_flat_names_are_refused() -> None:
    """A flat name of the old settings is an error, not a silently ignored keyword."""
    with pytest.raises(ValidationError, match="max_attempts"):
        Settings(max_attempts=1)
    with pytest.raises(ValidationError, match="attempts"):
        Settings(worker={"attempts": 1})


def test_unknown_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_NO_SUCH_SETTING", "1")
    assert Settings().worker.max_attempts == 3


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.worker.max_attempts = 1  # type: ignore[misc]


def test_updated_merges_and_validates() -> None:
    settings = Settings(redis_url="redis://a", push={"timeout_s": 3})
    copy = settings.updated(api={"public_url": "http://h"}, push={"backoff_max_s": 9})
    assert copy.api.public_url == "http://h"
    assert (copy.push.timeout_s, copy.push.backoff_max_s) == (3, 9)
    assert copy.redis_url == "redis://a" and settings.api.public_url is None
    with pytest.raises(ValidationError):
        settings.updated(worker={"max_attempts": 0})


def test_from_environ_reads_a_given_environment() -> None:
    env = {"ANIMGRAPH_VISIBILITY_TIMEOUT_S": "10", "ANIMGRAPH_CALLBACK_ALLOW_HOSTS": "127.0.0.1"}
    settings = Settings.from_environ(env, redis_url="redis://r", worker={"max_attempts": 1})
    assert settings.worker.visibility_timeout_s == 10
    assert settings.worker.max_attempts == 1
    assert settings.push.allow_hosts == ("127.0.0.1",)
    assert settings.redis_url == "redis://r"


def test_derived_values() -> None:
    settings = Settings(data_dir="/srv/a", worker={"visibility_timeout_s": 10, "time_limit_s": 6})
    assert settings.stuck_processing_s == 10 + 6 + 60
    assert Settings(reconciler={"stuck_after_s": 4}).stuck_processing_s == 4
    assert settings.resolved_storage_url == "file:///srv/a/storage"


def test_the_shutdown_grace_follows_the_time_limit_unless_set() -> None:
    assert Settings(worker={"time_limit_s": 90}).worker.grace_s == 90
    assert Settings(worker={"time_limit_s": 90, "shutdown_grace_s": 0}).worker.grace_s == 0


def test_a_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="ANIMGRAPH_LOG_FORMAT"):
        Settings()


def test_s3_options_are_the_s3_group() -> None:
    settings = Settings(storage={"s3": {"region": "r", "secret_access_key": "hidden"}})
    assert isinstance(settings.storage.s3, S3Options)
    assert settings.storage.s3 == S3Options(region="r", secret_access_key="hidden")  # type: ignore[arg-type]
    assert "hidden" not in repr(settings)


def test_flower_auth_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMGRAPH_FLOWER_BASIC_AUTH", "admin:pw")
    settings = Settings()
    assert settings.flower.basic_auth.get_secret_value() == "admin:pw"
    assert "admin:pw" not in repr(settings)
    assert Settings(flower={}).flower.basic_auth.get_secret_value() == "admin:pw"


# --- the README ---------------------------------------------------------------------------


def _readme_rows() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if re.match(r"\| `ANIMGRAPH_", line)]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split(" | ")]


def test_readme_table_names_every_setting_with_its_default() -> None:
    readme = [tuple(_cells(row)[:3]) for row in _readme_rows()]
    settings = [(f"`{s.variable}`", f"`{s.path}`", s.default) for s in describe_settings()]
    assert readme == settings, (
        "README.md's configuration table and the settings disagree: paste the output of "
        "`python -m animgraph.shared.settings.table` into its Configuration section"
    )


def test_readme_table_is_the_generated_one() -> None:
    """Descriptions too: a setting's meaning is written once, on its field."""
    expected = settings_table().splitlines()[2:]
    assert _readme_rows() == expected, (
        "edit the description on the field, then paste the output of "
        "`python -m animgraph.shared.settings.table` into README.md's Configuration section"
    )
