"""The console's sign-in, sessions, media list and routes against a real Redis (no worker, no
browser; tests/test_console.py drives the page itself)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from animgraph.producer import Client, RecordingSender
from animgraph.producer.api import create_app
from animgraph.producer.console.service import (
    MAX_FAILED_SIGN_INS,
    TEMPLATE_FIELDS,
    VIDEO_FORMATS,
    ConsoleService,
    size_label,
)
from animgraph.shared.formats import FORMATS
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings

HEADER = {"X-Animgraph-Console": "1"}


@pytest.fixture()
def settings_db(redis_server: RedisServer, data_dir: Path) -> Settings:
    """A Redis database of its own, emptied for each test."""
    settings = Settings(
        redis_url=redis_server.url.rsplit("/", 1)[0] + "/5",
        data_dir=data_dir,
        api={"keys": "AKIDone:key-one,AKIDtwo:key-two"},
        console={"password": "pw", "session_ttl_s": 60},
    )
    with redis.Redis.from_url(settings.redis_url) as raw:
        raw.flushdb()
    return settings


@pytest.fixture()
def client(settings_db: Settings) -> Iterator[Client]:
    with Client(settings_db, sender=RecordingSender()) as c:
        yield c


def test_credentials_and_sessions(client: Client) -> None:
    service = ConsoleService(client)
    assert service.check_credentials("pw", "", "")
    assert not service.check_credentials("pw2", "", "")
    assert service.check_credentials("", "AKIDtwo", "key-two")
    assert not service.check_credentials("", "AKIDtwo", "key-one")
    assert not service.check_credentials("", "AKIDnone", "key-one")
    assert not service.check_credentials("", "", "")
    token = service.open_session("console")
    assert service.session_user(token) == "console"
    # Redis keeps only the hash of the id, with the session's TTL.
    raw = redis.Redis.from_url(client.redis_url, decode_responses=True)
    [key] = raw.keys("animgraph:console:session:*")
    assert token not in key and 0 < raw.ttl(key) <= 60
    service.close_session(token)
    assert service.session_user(token) is None
    assert service.session_user("") is None and service.session_user("x" * 500) is None


def test_no_password_means_key_pairs_only(client: Client, settings_db: Settings) -> None:
    settings = settings_db.updated(console={"password": ""})
    with Client(settings, sender=RecordingSender()) as other:
        service = ConsoleService(other)
        assert not service.password_enabled
        assert not service.check_credentials("anything", "", "")
        assert service.check_credentials("", "AKIDone", "key-one")


def test_failed_sign_ins_lock_an_address(client: Client) -> None:
    service = ConsoleService(client)
    for _ in range(MAX_FAILED_SIGN_INS):
        assert not service.too_many_failures("10.0.0.1")
        service.record_failure("10.0.0.1")
    assert service.too_many_failures("10.0.0.1")
    assert not service.too_many_failures("10.0.0.2")


def test_media_list_newest_first(client: Client, corpus_dir: Path) -> None:
    first = client.register_media(corpus_dir / "vtest.avi")
    time.sleep(1.1)  # CreateTime has a resolution of one second
    second = client.register_media(corpus_dir / "cockatoo.mp4", name="bird")
    media = ConsoleService(client).list_media()
    assert [m["FileId"] for m in media] == [second.file_id, first.file_id]
    assert media[0]["Name"] == "bird" and media[0]["Duration"] > 0 and media[0]["Width"] > 0


def test_routes_need_a_session_and_the_header(settings_db: Settings, client: Client) -> None:
    http = TestClient(create_app(settings_db, client=client))
    assert http.get("/console/api/flows").status_code == 401
    assert http.post("/console/api/login", json={"Password": "pw"}).status_code == 403
    wrong = http.post("/console/api/login", json={"Password": "no"}, headers=HEADER)
    assert wrong.status_code == 401 and wrong.json()["Error"]["Code"] == "AuthFailure.SignIn"
    assert http.post("/console/api/login", json={"Password": "pw"}, headers=HEADER).is_success
    created = http.post("/console/api/templates", json={"Fps": 5, "Width": 320}, headers=HEADER)
    definition = created.json()["Definition"]
    changed = http.post(
        "/console/api/templates/modify", json={"Definition": definition, "Fps": 7}, headers=HEADER
    )
    assert changed.json()["Fps"] == 7
    preset = http.post(
        "/console/api/templates/modify", json={"Definition": 20000, "Fps": 7}, headers=HEADER
    )
    assert preset.status_code == 400
    assert preset.json()["Error"]["Code"] == "InvalidParameterValue.Definition"
    flow = {
        "Name": "f1",
        "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": definition}]},
    }
    assert http.post("/console/api/flows", json=flow, headers=HEADER).is_success
    again = http.post("/console/api/flows", json=flow, headers=HEADER)
    assert again.json()["Error"]["Code"] == "InvalidParameter.ExistedProcedureName"
    listed = http.get("/console/api/flows").json()["ProcedureTemplateSet"]
    assert [f["Name"] for f in listed] == ["f1"]
    assert http.post("/console/api/flows/delete", json={"Name": "f1"}, headers=HEADER).is_success
    gone = http.post("/console/api/templates/delete", json={"Definition": "x"}, headers=HEADER)
    assert gone.json()["Error"]["Code"] == "InvalidParameterValue.Definition"
    assert http.get("/console/api/nothing").status_code == 404
    assert http.get("/console/api/tasks").json() == {"TaskSet": []}


def test_size_labels_read_back_as_their_bytes() -> None:
    assert size_label(10_000_000) == {
        "Bytes": 10_000_000,
        "Short": "10 MB",
        "Text": "10 MB (10000000 bytes)",
        "Input": "10 MB",
    }
    assert size_label(10 * 1024 * 1024)["Input"] == "10 MiB"
    # "1.23 MB" is not 1234567 bytes again: the field shows the bytes.
    assert size_label(1_234_567)["Input"] == "1234567"
    assert size_label(1_234_567)["Text"] == "1.23 MB (1234567 bytes)"


def test_template_form_fields_follow_the_formats() -> None:
    fields = {f["Field"]: f for f in TEMPLATE_FIELDS}
    assert fields["Format"]["Choices"] == list(FORMATS)
    assert VIDEO_FORMATS == ["mp4", "webm"]
    assert "only 0 for mp4, webm" in fields["LoopCount"]["Help"]
    presets = {p["Name"]: p for p in fields["MaxSize"]["Presets"]}
    assert presets["discord"]["Bytes"] == 10 * 1024 * 1024
    assert presets["discord"]["Text"] == "10 MiB"


def test_budget_routes(settings_db: Settings, client: Client) -> None:
    http = TestClient(create_app(settings_db, client=client))
    assert http.post("/console/api/login", json={"Password": "pw"}, headers=HEADER).is_success
    bad = http.post("/console/api/templates", json={"Fps": 5, "MaxSize": "lots"}, headers=HEADER)
    assert bad.status_code == 400
    assert bad.json()["Error"]["Code"] == "InvalidParameterValue.MaxSize"
    made = http.post("/console/api/templates", json={"Fps": 5, "MaxSize": "x"}, headers=HEADER)
    assert made.json()["MaxSize"] == 15_000_000
    http.post("/console/api/templates", json={"Fps": 5, "MaxSize": 0}, headers=HEADER)
    listed = http.get("/console/api/templates").json()
    assert [t.get("MaxSize") for t in listed["AnimatedGraphicsTemplateSet"]] == [
        None,
        None,
        15_000_000,
        None,
    ]
    assert listed["Sizes"] == {"15000000": size_label(15_000_000)}
