"""Print the MD5 of every bench job's output as ``animgraph run`` makes it (default Quality).

A refactoring that must not change what the encoder writes is checked by running this before
and after and comparing the lines (``diff``). Reads the clips as the bench does
(``bench/corpus.py``); each job goes through the whole queue: a fresh ``animgraph run`` with its
embedded Redis and worker.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import clip_path
from bench.run import JOBS, START_S

ANIMGRAPH = Path(sys.executable).with_name("animgraph")


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANIMGRAPH_REDIS_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        env["ANIMGRAPH_DATA_DIR"] = str(Path(tmp) / "var")
        for job in JOBS:
            for clip in job.clips:
                start = START_S[clip]
                out = Path(tmp) / f"{job.name}.{clip}.{job.fmt}"
                subprocess.run(
                    [
                        str(ANIMGRAPH),
                        "run",
                        str(clip_path(clip)),
                        "--format",
                        job.fmt,
                        "--fps",
                        str(job.fps),
                        "--width",
                        str(job.width),
                        "--start",
                        str(start),
                        "--end",
                        str(start + job.duration_s),
                        "-o",
                        str(out),
                    ],
                    check=True,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=tmp,
                )
                digest = hashlib.md5(out.read_bytes(), usedforsecurity=False).hexdigest()
                print(f"{job.name} {clip} {out.stat().st_size} {digest}", flush=True)


if __name__ == "__main__":
    main()
