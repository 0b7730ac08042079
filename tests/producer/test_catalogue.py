"""Templates and task flows through the client against a real Redis (no worker needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from animgraph.producer import ApiError, Client, RecordingSender
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings


@pytest.fixture()
def settings_db(redis_server: RedisServer, data_dir: Path) -> Settings:
    """A Redis database of its own, emptied for each test."""
    settings = Settings(redis_url=redis_server.url.rsplit("/", 1)[0] + "/3", data_dir=data_dir)
    with redis.Redis.from_url(settings.redis_url) as raw:
        raw.flushdb()
    return settings


@pytest.fixture()
def client(settings_db: Settings) -> Iterator[Client]:
    with Client(settings_db, sender=RecordingSender()) as c:
        yield c


def _refused(code: str, call: object, *args: object) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code == code, info.value
    return info.value


def test_template_lifecycle(client: Client) -> None:
    created = client.create_animated_graphics_template(
        {"Format": "webp", "Width": 480, "Fps": 12, "Quality": 80, "Name": "teaser"}
    )
    assert created.definition == 100001 and created.type == "Custom"
    assert created.create_time == created.update_time != ""
    second = client.create_template(Fps=5)
    assert second.definition == 100002 and second.format == "gif" and second.quality == 75

    modified = client.modify_animated_graphics_template({"Definition": 100001, "Fps": 15})
    assert (modified.fps, modified.width, modified.quality, modified.name) == (
        15,
        480,
        80,
        "teaser",
    )
    assert modified.create_time == created.create_time

    listed = client.describe_animated_graphics_templates()
    assert listed.total_count == 4
    assert [t.definition for t in listed.animated_graphics_template_set] == [
        20000, 20001, 100001, 100002,
    ]  # fmt: skip
    assert listed.animated_graphics_template_set[2].fps == 15

    client.delete_animated_graphics_template(100002)
    _refused("ResourceNotFound.TemplateNotExist", client.delete_animated_graphics_template, 100002)
    assert client.describe_animated_graphics_templates({"Type": "Custom"}).total_count == 1


def test_describe_filters_and_pages(client: Client) -> None:
    for fps in range(1, 13):
        client.create_template(Fps=fps)
    page = client.describe_animated_graphics_templates({"Type": "Custom", "Offset": 10, "Limit": 5})
    assert page.total_count == 12
    assert [t.fps for t in page.animated_graphics_template_set] == [11, 12]
    default = client.describe_animated_graphics_templates({})
    assert default.total_count == 14 and len(default.animated_graphics_template_set) == 10
    chosen = client.describe_animated_graphics_templates({"Definitions": [20001, 100003, 4]})
    assert [t.definition for t in chosen.animated_graphics_template_set] == [20001, 100003]
    presets = client.describe_animated_graphics_templates({"Type": "Preset"})
    assert [(t.definition, t.type, t.format, t.fps) for t in presets.animated_graphics_template_set] == [
        (20000, "Preset", "gif", 2), (20001, "Preset", "webp", 2),
    ]  # fmt: skip


def test_presets_cannot_change(client: Client) -> None:
    _refused(
        "InvalidParameterValue.Definition",
        client.modify_animated_graphics_template,
        {"Definition": 20000, "Fps": 5},
    )
    _refused("InvalidParameterValue.Definition", client.delete_animated_graphics_template, 20001)
    assert client.state.templates.get(20000) is not None
    assert client.state.templates.get(20000).fps == 2  # type: ignore[union-attr]


def test_refused_values_store_nothing(client: Client) -> None:
    _refused("InvalidParameterValue.Fps", client.create_template, *())  # no Fps at all
    for fields, code in [
        ({"Fps": 61}, "InvalidParameterValue.Fps"),
        ({"Fps": 10, "Width": 127}, "InvalidParameterValue.Resolution"),
        ({"Fps": 10, "Format": "webp"}, "InvalidParameterValue.FormatWebpWidthAndHeightBothZero"),
    ]:
        _refused(code, client.create_animated_graphics_template, fields)
    assert client.state.templates.count() == 0
    gif = client.create_template(Fps=10)
    # Turning it into a WebP with no size is refused too, and leaves it unchanged.
    _refused(
        "InvalidParameterValue.FormatWebpWidthAndHeightBothZero",
        client.modify_animated_graphics_template,
        {"Definition": gif.definition, "Format": "webp"},
    )
    _refused(
        "InvalidParameterValue.Resolution",
        client.modify_animated_graphics_template,
        {"Definition": gif.definition, "Height": 4097},
    )
    assert client.state.templates.get(gif.definition) == gif
    _refused(
        "ResourceNotFound.TemplateNotExist",
        client.modify_animated_graphics_template,
        {"Definition": 100999, "Fps": 5},
    )


def test_template_limit(settings_db: Settings) -> None:
    limited = settings_db.updated(limits={"max_templates": 2})
    with Client(limited, sender=RecordingSender()) as client:
        client.create_template(Fps=1)
        client.create_template(Fps=2)
        with pytest.raises(ApiError) as info:
            client.create_template(Fps=3)
        error = info.value
        assert error.code == "LimitExceeded.TooMuchTemplate"
        assert "2" in error.message
        assert client.state.templates.count() == 2


def test_task_flow_lifecycle(client: Client) -> None:
    tasks = {"AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": -3}]}
    flow = client.create_procedure_template(
        {"Name": "teaser", "Comment": "last 3 s", "MediaProcessTask": tasks}
    )
    assert flow.type == "Custom" and flow.create_time
    _refused(
        "InvalidParameter.ExistedProcedureName",
        client.create_procedure_template,
        {"Name": "teaser", "MediaProcessTask": tasks},
    )
    client.create_procedure_template({"Name": "other"})
    reset = client.reset_procedure_template(
        {"Name": "teaser", "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20001}]}}
    )
    assert reset.create_time == flow.create_time and reset.comment == ""
    assert client.get_procedure_template("teaser").media_process_task == reset.media_process_task
    listed = client.describe_procedure_templates()
    assert listed.total_count == 2
    assert [f.name for f in listed.procedure_template_set] == ["teaser", "other"]
    assert client.describe_procedure_templates({"Names": ["other"]}).total_count == 1
    assert client.describe_procedure_templates({"Type": "Preset"}).total_count == 0
    client.delete_procedure_template("other")
    for call, arg in [
        (client.delete_procedure_template, "other"),
        (client.reset_procedure_template, {"Name": "other"}),
        (client.get_procedure_template, "other"),
    ]:
        _refused("InvalidParameterValue.ProcedureName", call, arg)


def test_catalogue_survives_a_new_producer(settings_db: Settings) -> None:
    with Client(settings_db, sender=RecordingSender()) as first:
        template = first.create_template(Fps=7, Width=320)
        first.create_procedure_template({"Name": "kept"})
    with Client(settings_db, sender=RecordingSender()) as second:
        assert second.state.templates.get(template.definition) == template
        assert second.get_procedure_template("kept").name == "kept"


def test_process_media_by_procedure_uses_the_flow(client: Client, corpus_dir: Path) -> None:
    media = client.register_media(corpus_dir / "vtest.avi")
    tasks = {"AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 1}]}
    client.create_procedure_template({"Name": "flow", "MediaProcessTask": tasks})
    task_id = client.process_media_by_procedure(
        {
            "FileId": media.file_id,
            "ProcedureName": "flow",
            "SessionContext": "ctx",
            "TasksPriority": 5,
        }
    )
    detail = client.describe_task_detail(task_id)
    assert detail.status == "WAITING"
    assert detail.procedure_task.session_context == "ctx"
    assert detail.procedure_task.tasks_priority == 5
    [result] = detail.procedure_task.media_process_result_set
    assert result.animated_graphic_task.input.start_time_offset == 1
    _refused(
        "InvalidParameterValue.ProcedureName",
        client.process_media_by_procedure,
        {"FileId": media.file_id, "ProcedureName": "missing"},
    )
    sender = client.sender
    assert isinstance(sender, RecordingSender) and len(sender.sent) == 1
    assert sender.sent[0].priority < 4  # higher TasksPriority: a smaller Redis priority number


def test_describe_tasks_filters_and_scrolls(client: Client, corpus_dir: Path) -> None:
    first = client.register_media(corpus_dir / "vtest.avi").file_id
    second = client.register_media(corpus_dir / "cockatoo.mp4").file_id
    request = {"MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]}}
    ids = []
    for n in range(5):
        ids.append(
            client.process_media(
                {"FileId": first if n < 3 else second, **request, "SessionContext": str(n)}
            )
        )
        time.sleep(0.002)
    page = client.describe_tasks({"Limit": 2})
    collected = [t.task_id for t in page.task_set]
    while page.scroll_token:
        page = client.describe_tasks({"Limit": 2, "ScrollToken": page.scroll_token})
        collected += [t.task_id for t in page.task_set]
    assert sorted(collected) == sorted(ids) and len(collected) == 5
    newest = client.describe_tasks({"Limit": 5}).task_set
    assert [t.task_id for t in newest] == ids[::-1]
    assert {t.task_id for t in client.describe_tasks({"FileId": second}).task_set} == set(ids[3:])
    assert client.state.tasks.ids(file_id=second) == ids[:2:-1]  # the file's own index
    assert len(client.describe_tasks({"Status": "WAITING", "Limit": 100}).task_set) == 5
    assert client.describe_tasks({"Status": "FINISH"}).task_set == ()
    assert client.describe_tasks({"CreateTime": {"After": "2999-01-01T00:00:00Z"}}).task_set == ()
    oldest = client.describe_tasks(
        {"Sort": {"Field": "CreateTime", "Order": "Asc"}, "Limit": 100}
    ).task_set
    assert [t.task_id for t in oldest] == ids
    info = client.describe_tasks({"FileId": first, "Limit": 1}).task_set[0]
    assert (
        info.task_type == "Procedure"
        and info.status == "WAITING"
        and info.session_context in {"0", "1", "2"}
    )
    with pytest.raises(ApiError) as error:
        client.describe_tasks({"ScrollToken": "bogus"})
    assert error.value.code == "InvalidParameterValue.ScrollToken"
    # A finished task leaves the index of open tasks (what the reconciler walks).
    client.state.tasks.finish(ids[0])
    assert client.state.tasks.ids(open_only=True) == ids[:0:-1]
    assert [t.task_id for t in client.describe_tasks({"Status": "FINISH"}).task_set] == ids[:1]
    assert len(client.describe_tasks({"Status": "WAITING", "Limit": 100}).task_set) == 4
    by_finish = client.describe_tasks({"Sort": {"Field": "FinishTime", "Order": "Desc"}})
    assert by_finish.task_set[0].task_id == ids[0]
