"""The notifier's finish step on a real Redis, in this process: a notifier that dies half-way
is completed by the next one (its redelivery, or the reconciler), and the event goes out once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from animgraph.producer import Client, RecordingSender
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.workers import notifier
from animgraph.workers.runtime import Runtime, runtime


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    with RedisServer(tmp_path / "redis") as server:
        monkeypatch.setenv("ANIMGRAPH_REDIS_URL", server.url)
        monkeypatch.setenv("ANIMGRAPH_DATA_DIR", str(tmp_path))
        runtime.cache_clear()
        yield runtime()
        runtime.cache_clear()


def test_a_notifier_that_died_half_way_is_completed_and_the_event_goes_out_once(
    rt: Runtime, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(redis_url=rt.settings.redis_url, data_dir=rt.settings.data_dir)
    with Client(settings, sender=RecordingSender()) as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        task_id = client.process_media(
            {
                "FileId": file_id,
                "MediaProcessTask": {"AnimatedGraphicTaskSet": [{"Definition": 20000}]},
            }
        )
        finish_task = rt.state.tasks.finish

        def dies(task: str) -> None:
            raise SystemExit("the notifier's process died")

        monkeypatch.setattr(rt.state.tasks, "finish", dies)
        with pytest.raises(SystemExit):
            notifier.finish(rt, task_id, "the subtask did not finish")
        assert client.describe_task_detail(task_id).status != "FINISH"

        monkeypatch.setattr(rt.state.tasks, "finish", finish_task)
        notifier.finish(rt, task_id, "the subtask did not finish")  # the redelivered notifier
        detail = client.describe_task_detail(task_id)
        sub = detail.procedure_task.media_process_result_set[0].animated_graphic_task
        assert detail.status == "FINISH" and sub.status == "FAIL" and detail.finish_time
        assert client.task_event(task_id) is not None

        notifier.finish(rt, task_id, "again")  # a duplicate changes nothing, sends nothing
        assert client.describe_task_detail(task_id).finish_time == detail.finish_time
        events = client.pull_events(wait_s=0).event_set
        assert [
            e.procedure_state_change_event.task_id for e in events if e.procedure_state_change_event
        ] == [task_id]
