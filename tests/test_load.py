"""Load: 500 procedures submitted at once all finish, each with exactly one event, none lost.
(Throughput and memory under this load are measured by bench/load.py, not asserted here.)"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from stack import StackFactory

pytestmark = pytest.mark.e2e

PROCEDURES = 500


def test_five_hundred_procedures_at_once(stack_factory: StackFactory, corpus_dir: Path) -> None:
    stack = stack_factory.start("load", appendonly=True)
    with stack.client() as client:
        file_id = client.register_media(corpus_dir / "vtest.avi").file_id
        small = client.create_template(Format="gif", Fps=2, Width=128)
        started = time.monotonic()
        task_ids = [
            client.process_media(
                {
                    "FileId": file_id,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [
                            {
                                "Definition": small.definition,
                                "StartTimeOffset": (n % 50) * 0.1,
                                "EndTimeOffset": (n % 50) * 0.1 + 0.5,
                            }
                        ]
                    },
                }
            )
            for n in range(PROCEDURES)
        ]
        events: Counter[str] = Counter()
        deadline = time.monotonic() + 600
        while sum(events.values()) < PROCEDURES and time.monotonic() < deadline:
            pulled = client.pull_events(wait_s=2).event_set
            if pulled:
                client.confirm_events({"EventHandles": [e.event_handle for e in pulled]})
            for event in pulled:
                assert event.procedure_state_change_event is not None
                events[event.procedure_state_change_event.task_id] += 1
        elapsed = time.monotonic() - started
        time.sleep(1)  # a duplicate would arrive now
        for event in client.pull_events(wait_s=0).event_set:
            assert event.procedure_state_change_event is not None
            events[event.procedure_state_change_event.task_id] += 1
        assert set(events) == set(task_ids), f"{len(set(task_ids) - set(events))} events missing"
        assert set(events.values()) == {1}
        for task_id in task_ids:
            detail = client.describe_task_detail(task_id)
            assert detail.status == "FINISH"
            [result] = detail.procedure_task.media_process_result_set
            assert result.animated_graphic_task.status == "SUCCESS"
        print(f"{PROCEDURES} procedures in {elapsed:.1f} s ({PROCEDURES / elapsed * 60:.0f}/min)")
