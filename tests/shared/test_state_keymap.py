"""Every key an end-to-end run leaves in Redis belongs to a family of the key map
(``animgraph.shared.state.keys``) or to Celery's and kombu's own keys."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import redis

from animgraph.producer import Client
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.state import keys

pytestmark = pytest.mark.e2e


def test_an_end_to_end_run_writes_only_keys_of_the_map(
    client: Client, redis_server: RedisServer, corpus_dir: Path
) -> None:
    media = client.register_media(corpus_dir / "cockatoo.mp4")
    template = client.create_animated_graphics_template({"Format": "webp", "Fps": 4, "Width": 320})
    client.create_procedure_template(
        {
            "Name": "keymap",
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2},
                    {"Definition": template.definition, "EndTimeOffset": 1},
                ]
            },
        }
    )
    task_id = client.process_media_by_procedure(
        {"FileId": media.file_id, "ProcedureName": "keymap", "SessionId": "keymap-run"}
    )
    task = client.wait(task_id, timeout_s=240)
    assert task.status == "FINISH"
    assert all(r.animated_graphic_task.status == "SUCCESS" for r in task.media_process_result_set)
    handles = [e.event_handle for e in client.pull_events(wait_s=0).event_set if e.event_handle]
    client.confirm_events({"EventHandles": handles})
    client.describe_tasks({"FileId": media.file_id})

    raw = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        names = sorted(str(k) for k in raw.scan_iter(count=1000))
    finally:
        raw.close()
    ours = [n for n in names if any(fnmatchcase(n, p) for p in keys.KEY_PATTERNS)]
    celery = [n for n in names if any(fnmatchcase(n, p) for p in keys.CELERY_KEY_PATTERNS)]
    assert not set(ours) & set(celery)
    assert sorted(ours + celery) == names, set(names) - set(ours) - set(celery)
    # The run wrote the families it touches (the map is not matching by accident).
    for name in (
        keys.media(media.file_id),
        keys.task(task_id),
        keys.task_notified(task_id),
        keys.task_dispatched(task_id),
        keys.attempts(task_id, 0, None, "encode"),
        keys.session("keymap-run"),
        keys.procedure("keymap"),
        keys.template(template.definition),
        keys.EVENTS,
    ):
        assert name in ours, name
    assert any(n.startswith("_kombu.binding.") for n in celery)
