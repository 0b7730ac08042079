"""Load benchmark: rounds of small procedures through the HTTP API, a warm worker and Redis;
prints throughput and the resident memory of the API and the worker after each round, to show
whether memory stays flat under load.

    .venv/bin/python bench/load.py [--rounds 3] [--per-round 300] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from animgraph.producer.http_client import ApiClient
from animgraph.shared.redis_server import RedisServer, free_port
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess, wait_for_workers

CLIP = Path(__file__).resolve().parent.parent / "tests" / "data" / "vtest.avi"
KEY_ID, KEY = "AKIDload", "load-secret"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="animgraph-load-"))
    port = free_port()
    with RedisServer(tmp / "redis", appendonly=True) as redis_server:
        env = {
            "ANIMGRAPH_REDIS_URL": redis_server.url,
            "ANIMGRAPH_DATA_DIR": str(tmp),
            "ANIMGRAPH_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ANIMGRAPH_API_KEYS": f"{KEY_ID}:{KEY}",
        }
        worker = WorkerProcess(
            redis_server.url, tmp, name="load", concurrency=args.concurrency, env=env
        ).start()
        api = subprocess.Popen(
            [sys.executable, "-m", "animgraph.producer", "api", "--port", str(port)],
            env={**os.environ, **env},
        )
        try:
            wait_for_workers(redis_server.url, Settings(redis_url=redis_server.url, data_dir=tmp))
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            with ApiClient(f"http://127.0.0.1:{port}", KEY_ID, KEY) as client:
                file_id = client.upload(CLIP)
                small = client.call(
                    "CreateAnimatedGraphicsTemplate", {"Format": "gif", "Fps": 2, "Width": 128}
                )
                print("round procedures  seconds  per min  API MB worker MB")
                api_mb, worker_mb = rss_mb(api.pid), rss_mb(worker.pid)
                print(f"{0:>5} {0:>10} {'':>17} {api_mb:>7.0f} {worker_mb:>9.0f}")
                for round_no in range(1, args.rounds + 1):
                    started = time.monotonic()
                    ids = [
                        client.call(
                            "ProcessMedia",
                            {
                                "FileId": file_id,
                                "MediaProcessTask": {
                                    "AnimatedGraphicTaskSet": [
                                        {
                                            "Definition": small["Definition"],
                                            "StartTimeOffset": (n % 50) * 0.1,
                                            "EndTimeOffset": (n % 50) * 0.1 + 0.5,
                                        }
                                    ]
                                },
                            },
                        )["TaskId"]
                        for n in range(args.per_round)
                    ]
                    pending = set(ids)
                    while pending:
                        for event in client.call("PullEvents").get("EventSet") or []:
                            client.call("ConfirmEvents", {"EventHandles": [event["EventHandle"]]})
                            task = event.get("ProcedureStateChangeEvent") or {}
                            pending.discard(task.get("TaskId", ""))
                    elapsed = time.monotonic() - started
                    rate = args.per_round / elapsed * 60
                    print(
                        f"{round_no:>5} {args.per_round:>10} {elapsed:>8.1f} {rate:>8.0f} "
                        f"{rss_mb(api.pid):>7.0f} {rss_mb(worker.pid):>9.0f}",
                        flush=True,
                    )
        finally:
            api.terminate()
            api.wait(10)
            worker.stop()


if __name__ == "__main__":
    main()
