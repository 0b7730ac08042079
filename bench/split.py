"""Split benchmark: one long segment (60 s of 720p video to a 480 px GIF at 10 fps) with and
without time slicing, on a worker of 1 and of 2 processes; prints wall times and the speed-up.

    .venv/bin/python bench/split.py [--seconds 60] [--slice 10]

Needs ffmpeg (bench/setup.sh installs it) to make the long source by looping a corpus clip.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from animgraph.producer import Client
from animgraph.shared.redis_server import RedisServer
from animgraph.shared.settings import Settings
from animgraph.workers.local import WorkerProcess, wait_for_workers

HERE = Path(__file__).resolve().parent
CLIP = HERE.parent / "tests" / "data" / "cockatoo.mp4"


def long_source(seconds: float) -> Path:
    """A clip of at least ``seconds`` made by looping cockatoo.mp4 (cached in bench/.cache)."""
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"cockatoo-{int(seconds)}s.mp4"
    if not path.exists():
        loops = int(seconds // 14) + 1
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops), "-i", str(CLIP),
             "-t", str(seconds + 1), "-an", "-c:v", "libx264", "-preset", "veryfast",
             "-g", "50", "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
    return path


def run(source: Path, seconds: float, *, concurrency: int, split: bool, slice_s: float) -> float:
    """Wall time of one procedure, from ProcessMedia to FINISH, on a warm worker."""
    tmp = Path(tempfile.mkdtemp(prefix="animgraph-split-"))
    env = {"ANIMGRAPH_SPLIT_SLICE_S": str(slice_s)}
    env["ANIMGRAPH_SPLIT_MIN_S"] = str(slice_s * 2 if split else seconds * 10)
    try:
        with RedisServer(tmp / "redis") as server:
            settings = Settings(redis_url=server.url, data_dir=tmp)
            worker = WorkerProcess(
                server.url, tmp, name="split", concurrency=concurrency, env=env
            ).start()
            try:
                wait_for_workers(server.url, settings)
                with Client(settings) as client:
                    file_id = client.register_media(source).file_id
                    gif = client.create_template(Format="gif", Fps=10, Width=480)
                    item = {
                        "Definition": gif.definition,
                        "StartTimeOffset": 0,
                        "EndTimeOffset": seconds,
                    }
                    started = time.monotonic()
                    task_id = client.process_media(
                        {"FileId": file_id, "MediaProcessTask": {"AnimatedGraphicTaskSet": [item]}}
                    )
                    task = client.wait(task_id, timeout_s=1800, poll_s=0.2)
                    elapsed = time.monotonic() - started
                    sub = task.media_process_result_set[0].animated_graphic_task
                    if sub.status != "SUCCESS":
                        raise RuntimeError(f"{sub.err_code_ext}: {sub.message}")
                    return elapsed
            finally:
                worker.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--slice", type=float, default=10.0)
    args = parser.parse_args()
    source = long_source(args.seconds)
    print(f"{args.seconds:.0f} s of 720p -> 480 px GIF at 10 fps, slices of {args.slice:.0f} s")
    print(f"{'processes':>9} {'whole s':>8} {'split s':>8} {'split speed-up':>15}")
    times = {}
    for concurrency in (1, 2):
        whole = run(source, args.seconds, concurrency=concurrency, split=False, slice_s=args.slice)
        split = run(source, args.seconds, concurrency=concurrency, split=True, slice_s=args.slice)
        times[concurrency] = (whole, split)
        print(f"{concurrency:>9} {whole:>8.1f} {split:>8.1f} {whole / split:>14.2f}x", flush=True)
    print(f"split, 2 processes vs 1: {times[1][1] / times[2][1]:.2f}x")


if __name__ == "__main__":
    main()
