"""Redis with automatic failover (issue 18, item 3): animgraph on a Sentinel URL, a primary, a
replica and three Sentinels (real redis-server processes), the primary SIGKILLed while
procedures run. Every procedure whose TaskId was returned finishes with all its outputs and
exactly one final event; the API, the workers and the producer reconnect by themselves."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_ha import MASTER, SentinelCluster
from stack import StackFactory, drain_events, final_count, until

from animgraph.producer import Client
from animgraph.producer.http_client import ApiClient
from animgraph.shared.celeryconf import celery_config
from animgraph.shared.settings import Settings
from animgraph.shared.state import State
from animgraph.shared.state.connection import celery_url, parse_sentinel_url

pytestmark = pytest.mark.e2e

SECRET_ID, SECRET_KEY = "AKIDsentineltest", "sentinel-secret"


def test_sentinel_urls_parse_as_kombu_reads_them() -> None:
    target = parse_sentinel_url("sentinel://:p%40w@h1:26380;sentinel://h2/3;sentinel://h3:1/3")
    assert target.sentinels == (("h1", 26380), ("h2", 26379), ("h3", 1))
    assert (target.db, target.username, target.password) == (3, None, "p@w")
    # kombu and Celery read the first part's database and password only: Celery gets them on
    # every part, so that the broker, the results and animgraph's state share one database.
    assert celery_url("sentinel://:p%40w@h1:26380;sentinel://h2/3") == (
        "sentinel://:p%40w@h1:26380/3;sentinel://:p%40w@h2:26379/3"
    )
    conf = celery_config(Settings(), "sentinel://h1;sentinel://h2/2")
    assert (
        conf["broker_url"]
        == conf["result_backend"]
        == "sentinel://h1:26379/2;sentinel://h2:26379/2"
    )
    assert conf["broker_transport_options"]["master_name"] == "mymaster"
    assert conf["result_backend_transport_options"]["master_name"] == "mymaster"
    with pytest.raises(ValueError, match="not a Sentinel"):
        parse_sentinel_url("sentinel://h1:26379;redis://h2:6379")
    with pytest.raises(ValueError, match="different databases"):
        parse_sentinel_url("sentinel://h1:26379/1;sentinel://h2:26379/2")


def test_waiting_for_replicas_follows_the_url() -> None:
    sentinel = Settings(redis_url="sentinel://h1:26379;sentinel://h2:26379/0")
    assert sentinel.ack_replicas == 1
    assert Settings(redis_url="redis://h:6379/0").ack_replicas == 0
    assert sentinel.updated(redis_ack_replicas=0).ack_replicas == 0


@pytest.mark.parametrize(
    "down_after_ms",
    [
        1000,  # a quick failover: workers keep their leases through it
        30000,  # Redis's default: longer than the 30 s lease, every worker gives its work up
    ],
    ids=["down-after-1s", "down-after-30s"],
)
def test_a_primary_lost_mid_flight_loses_no_procedure(
    stack_factory: StackFactory, corpus_dir: Path, tmp_path: Path, down_after_ms: int
) -> None:
    """animgraph's default settings; the Sentinels' ``down-after-milliseconds`` at 1 s and at
    Redis's default, 30 s. Procedures are submitted through the client and the HTTP API before,
    during and after the failover; the primary dies while steps run."""
    cluster = SentinelCluster(tmp_path / "ha", down_after_ms=down_after_ms).start()
    env = {"ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}"}
    # Supervised, as `animgraph worker` is by default: a worker that gave its work up (its
    # heartbeat lapsed during a long failover) is started again.
    s = stack_factory.start(
        "sentinel",
        workers=2,
        supervise=True,
        api=True,
        redis=cluster,
        kill_at_exit=True,
        env=env,
    )
    assert s.settings.redis_url == cluster.url and s.settings.ack_replicas == 1
    task_ids: list[str] = []
    lock = threading.Lock()
    with (
        s.client() as client,
        ApiClient(
            # A call made during the failover waits for the new master (its Redis calls retry
            # for about 60 s): the HTTP client must wait as long.
            s.endpoint,
            SECRET_ID,
            SECRET_KEY,
            timeout_s=90,
        ) as api,
    ):
        file_id = client.register_media(corpus_dir / "cockatoo.mp4").file_id
        gif = client.create_template(Format="gif", Fps=10, Width=640)
        items = [
            {"Definition": gif.definition, "StartTimeOffset": 1, "EndTimeOffset": 3},
            {"Definition": 20001, "StartTimeOffset": 0, "EndTimeOffset": 2},
        ]
        request: dict[str, Any] = {
            "FileId": file_id,
            "MediaProcessTask": {"AnimatedGraphicTaskSet": items},
        }

        def submit(via_api: bool) -> None:
            if via_api:
                task_id = str(api.call("ProcessMedia", request)["TaskId"])
            else:
                task_id = client.process_media(request)
            with lock:
                task_ids.append(task_id)

        for i in range(4):
            submit(via_api=i % 2 == 1)
        until(lambda: _some_step_running(client, task_ids), 120, "a step to run")
        # Producers keep submitting through the failover, from two threads: each call returns
        # a TaskId only once the procedure is on the replica, or fails (none do, here).
        errors: list[BaseException] = []

        def keep_submitting(via_api: bool) -> None:
            try:
                for _ in range(3):
                    submit(via_api)
                    time.sleep(0.3)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=keep_submitting, args=(v,)) for v in (False, True)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        old_master = cluster.master_port()
        cluster.kill_primary()
        failover_s = cluster.wait_failover()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert cluster.master_port() == cluster.replica.port != old_master
        print(f"\nfailover: the replica took over {failover_s:.1f} s after the primary died")
        submit(via_api=True)  # after the failover, on the new master
        submit(via_api=False)
        started = time.monotonic()
        for task_id in task_ids:
            task = client.wait(task_id, timeout_s=300)
            for result in task.media_process_result_set:
                sub = result.animated_graphic_task
                assert sub.status == "SUCCESS", (task_id, sub.err_code_ext, sub.message)
                assert sub.output is not None and sub.output.size > 0
        print(f"all {len(task_ids)} procedures finished {time.monotonic() - started:.1f} s later")
        events = drain_events(client)
        assert [final_count(events, t) for t in task_ids] == [1] * len(task_ids)
        assert all(w.alive() for w in s.workers)
        assert s.api is not None and s.api.poll() is None


def _some_step_running(client: Client, task_ids: list[str]) -> bool:
    return any(client.describe_task_detail(t).status == "PROCESSING" for t in task_ids)


def test_a_state_on_sentinels_writes_to_the_master_and_waits_for_the_replica(
    tmp_path: Path,
) -> None:
    with SentinelCluster(tmp_path / "ha") as cluster:
        state = State.from_url(cluster.url, sentinel_master=MASTER)
        try:
            assert state.ping()
            assert state.replicate(1, 2000) == 1
            with redis.Redis(port=cluster.replica.port, decode_responses=True) as replica:
                assert replica.exists("animgraph:replicated")
        finally:
            state.close()
