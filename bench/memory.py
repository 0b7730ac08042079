"""Memory benchmark (issue 8, part 4): worker peak RSS on a 1080p source, GIF 1280 px wide at
24 fps, segments of 4 s and 30 s, against ffmpeg's two-pass recipe on the same jobs.

    .venv/bin/python bench/memory.py [--segments 4,30] [--skip-ffmpeg] [--json out.json]

The source is cockatoo.mp4 (1280x720, 14 s) looped and upscaled to 1920x1080 H.264 yuv420p,
32 s, made once with ffmpeg and kept in bench/.cache/ (gitignored).

animgraph: one warm worker (concurrency 1), one procedure per segment. Before each job the pool
process's high-water mark is reset (``/proc/<pid>/clear_refs`` <- ``5``); during the job every
pool process is sampled (a replaced one is picked up too) and its ``VmHWM`` read. The worker's
main process is reported apart (it only receives and acknowledges messages).

ffmpeg: ``fps,scale=1280:-1:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];
[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle``, peak RSS from GNU time (``%M``).

Targets: animgraph peak < 250 MB; flat: the 30 s job within ~10% of the 4 s job.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale import _children, cluster, wait_quiet

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
SOURCE_CLIP = ROOT / "tests" / "data" / "cockatoo.mp4"
FPS, WIDTH = 24, 1280
LIMIT_MB, FLAT = 250.0, 0.10


def source_1080p() -> Path:
    """cockatoo.mp4 looped to 32 s and upscaled to 1920x1080 (made once, cached)."""
    dest = CACHE / "cockatoo-1080p-32s.mp4"
    if dest.is_file():
        return dest
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-stream_loop", "2", "-i", str(SOURCE_CLIP),
         "-t", "32", "-vf", "scale=1920:1080:flags=lanczos", "-c:v", "libx264", "-preset", "fast",
         "-crf", "18", "-pix_fmt", "yuv420p", "-an", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.replace(dest)
    return dest


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid: int) -> None:
    """Reset a process's peak RSS (VmHWM) to its current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class PeakWatch:
    """Samples the peak RSS of a worker's pool processes while a job runs."""

    def __init__(self, worker_pid: int) -> None:
        self.worker_pid = worker_pid
        self.pool: dict[int, int] = {}  # pid -> VmHWM kB
        self.main_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakWatch:
        for pid in [self.worker_pid, *_children(self.worker_pid)]:
            reset_hwm(pid)
        self._thread.start()
        return self

    def _sample(self) -> None:
        for pid in _children(self.worker_pid):
            hwm = status_kb(pid, "VmHWM")
            self.pool[pid] = max(self.pool.get(pid, 0), hwm)
        self.main_kb = max(self.main_kb, status_kb(self.worker_pid, "VmHWM"))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def pool_mb(self) -> float:
        return max(self.pool.values(), default=0) / 1024


def animgraph_jobs(source: Path, segments: list[float]) -> list[dict[str, Any]]:
    rows = []
    with cluster() as c:
        client = c.client
        assert client is not None
        worker = c.start_worker(1)
        file_id = client.register_media(source).file_id
        definition = client.create_animated_graphics_template(
            {"Format": "gif", "Fps": FPS, "Width": WIDTH}
        ).definition

        def run(start: float, end: float) -> str:
            task_id = client.process_media(
                {
                    "FileId": file_id,
                    "MediaProcessTask": {
                        "AnimatedGraphicTaskSet": [
                            {
                                "Definition": definition,
                                "StartTimeOffset": start,
                                "EndTimeOffset": end,
                            }
                        ]
                    },
                }
            )
            task = client.wait(task_id, timeout_s=900, poll_s=0.1)
            sub = task.media_process_result_set[0].animated_graphic_task
            if sub.status != "SUCCESS" or sub.output is None:
                raise RuntimeError(f"{task_id}: {sub.status} {sub.err_code_ext} {sub.message}")
            return str(sub.output.url)

        run(0, 0.5)  # warm the pool process (imports, codecs)
        idle_kb = max(status_kb(pid, "VmRSS") for pid in _children(worker.pid))
        for seconds in segments:
            wait_quiet()
            with PeakWatch(worker.pid) as watch:
                started = time.monotonic()
                url = run(0, seconds)
                wall = time.monotonic() - started
            out = Path(url.removeprefix("file://"))
            rows.append(
                {
                    "segment_s": seconds,
                    "peak_mb": watch.pool_mb,
                    "pool_processes": len(watch.pool),
                    "main_mb": watch.main_kb / 1024,
                    "idle_mb": idle_kb / 1024,
                    "wall_s": wall,
                    "bytes": out.stat().st_size if out.is_file() else 0,
                }
            )
            print(f"animgraph {seconds:g} s: {rows[-1]}", flush=True)
    return rows


def ffmpeg_job(source: Path, seconds: float, tmp: Path) -> dict[str, Any]:
    graph = (
        f"[0:v]fps={FPS},scale={WIDTH}:-1:flags=lanczos,split[a][b];"
        "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle"
    )
    out = tmp / f"ffmpeg-{seconds:g}.gif"
    rss = tmp / "rss.txt"
    cmd = ["/usr/bin/time", "-f", "%M", "-o", str(rss),
           "ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", "0", "-t", f"{seconds:g}",
           "-i", str(source), "-filter_complex", graph, "-loop", "0", str(out)]  # fmt: skip
    wait_quiet()
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    row = {
        "segment_s": seconds,
        "peak_mb": int(rss.read_text().split()[-1]) / 1024,
        "wall_s": wall,
        "bytes": out.stat().st_size,
    }
    print(f"ffmpeg {seconds:g} s: {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", default="4,30", help="segment lengths in seconds")
    parser.add_argument("--skip-ffmpeg", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    segments = [float(s) for s in args.segments.split(",")]
    source = source_1080p()
    ours = animgraph_jobs(source, segments)
    theirs: list[dict[str, Any]] = []
    if not args.skip_ffmpeg:
        tmp = Path(tempfile.mkdtemp(prefix="animgraph-memory-"))
        try:
            theirs = [ffmpeg_job(source, s, tmp) for s in segments]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nGIF {WIDTH} px wide, {FPS} fps, from {source.name} (1920x1080 H.264)")
    print(
        "| segment | animgraph peak MB (pool process) | animgraph wall s | animgraph bytes "
        "| ffmpeg two-pass peak MB | ffmpeg wall s | ffmpeg bytes |"
    )
    print("|---|---|---|---|---|---|---|")
    for k, row in enumerate(ours):
        ff = theirs[k] if k < len(theirs) else None
        ff_cells = (
            f"{ff['peak_mb']:.0f} | {ff['wall_s']:.1f} | {ff['bytes']:,}" if ff else "- | - | -"
        )
        print(
            f"| {row['segment_s']:g} s | {row['peak_mb']:.0f} | {row['wall_s']:.1f} "
            f"| {row['bytes']:,} | {ff_cells} |"
        )
    print(
        f"(idle warm pool process: {ours[0]['idle_mb']:.0f} MB; worker main process peak: "
        f"{max(r['main_mb'] for r in ours):.0f} MB)"
    )
    peak = max(r["peak_mb"] for r in ours)
    under = peak < LIMIT_MB
    print(f"peak < {LIMIT_MB:.0f} MB: {'meets' if under else 'MISSES'} ({peak:.0f} MB)")
    if len(ours) >= 2:
        growth = ours[-1]["peak_mb"] / ours[0]["peak_mb"] - 1
        flat = growth <= FLAT
        print(
            f"flat ({ours[-1]['segment_s']:g} s vs {ours[0]['segment_s']:g} s within "
            f"{FLAT:.0%}): {'meets' if flat else 'MISSES'} ({growth:+.1%})"
        )
    if args.json:
        args.json.write_text(json.dumps({"animgraph": ours, "ffmpeg": theirs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
