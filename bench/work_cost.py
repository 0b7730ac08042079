"""Worker seconds of a subtask by format, in megapixel-frames of output: the factors of
``animgraph.shared.metrics.WORK_COSTS`` behind ``animgraph_work_waiting_seconds``.

    .venv/bin/python bench/work_cost.py [--clips cockatoo.mp4,vtest.avi,city.mpg]
                                        [--widths 320,640,1280] [--fps 10] [--seconds 3]
                                        [--repeat 3] [--json F]

For each clip, output width and format, in this one process, the three steps' cores as the
worker calls them: ``decode_segment`` (thinned to the output rate, scaled to the planner's
size), ``select_frames`` and the format's encoder at the default Quality, each timed in CPU
seconds of this process (all its threads: FFmpeg's frame threads, the encoders' second thread),
the least of ``--repeat`` runs. CPU seconds, not wall seconds: with one worker process per core
(the recommended concurrency) that is the capacity a subtask takes, and other processes on a
shared machine do not count in it. Decode and select are the same for every format of a job:
timed once per job and shared; one decode first warms the codecs up. The model
``seconds = base_s + per_mpf_s x MPF`` (MPF: output frames x width x height / 1e6) is fitted per
format by least squares over the jobs (the sizes spread the MPF from about 1.7 to 28), and the
median seconds per MPF is printed beside it.
Numbers depend on the machine: run it on a worker host to fit the model to yours.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animgraph.shared.formats import FORMATS, format_of
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.encode import ENCODERS
from animgraph.workers.media.geometry import even_size, output_size
from animgraph.workers.media.probe import probe
from animgraph.workers.media.select import select_frames
from bench.corpus import CLIPS, clip_path

START_S = {clip.name: clip.start_s for clip in CLIPS}  # as bench/run.py
Row = dict[str, float | str | int]


def _fastest(repeat: int, run: object) -> float:
    """The least CPU time (this process, all its threads) of ``repeat`` calls of ``run``."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        run()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return min(times)


def measure(clip: str, width: int, fps: int, seconds: float, work: Path, repeat: int) -> list[Row]:
    """One row per format: the job's size, frames and each part's seconds."""
    source = clip_path(clip)
    meta = probe(source)
    rows: list[Row] = []
    start, end = START_S[clip], START_S[clip] + seconds
    for even in (False, True):
        w, h = output_size(
            meta.display_width, meta.display_height, width=width, height=0, adaptive=True
        )
        if even:
            w, h = even_size(w, h)
        dest = work / f"{Path(clip).stem}-{w}x{h}"

        def decode(w: int = w, h: int = h, dest: Path = dest) -> None:
            shutil.rmtree(dest, ignore_errors=True)
            decode_segment(source, dest, start_s=start, end_s=end, width=w, height=h, fps=fps)

        decode_s = _fastest(repeat, decode)
        shutil.rmtree(dest, ignore_errors=True)
        frames = decode_segment(source, dest, start_s=start, end_s=end, width=w, height=h, fps=fps)
        select_s = _fastest(
            repeat, lambda f=frames: select_frames(f.pts_s, start_s=start, end_s=end, fps=fps)
        )
        selection = select_frames(frames.pts_s, start_s=start, end_s=end, fps=fps)
        mpf = len(selection) * w * h / 1e6
        for fmt in FORMATS:
            if format_of(fmt).even_size != even:
                continue
            out = work / f"out.{fmt}"
            encode_s = _fastest(
                repeat,
                lambda fmt=fmt, f=frames, s=selection, o=out: ENCODERS[fmt](f, s, o, quality=75.0),
            )
            rows.append(
                {
                    "clip": clip,
                    "format": fmt,
                    "width": w,
                    "height": h,
                    "frames": len(selection),
                    "mpf": round(mpf, 3),
                    "decode_s": round(decode_s, 4),
                    "select_s": round(select_s, 4),
                    "encode_s": round(encode_s, 4),
                }
            )
        shutil.rmtree(dest, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clips", default="cockatoo.mp4,vtest.avi,city.mpg")
    parser.add_argument("--widths", default="320,640,1280")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows: list[Row] = []
    clips = args.clips.split(",")
    with tempfile.TemporaryDirectory(prefix="animgraph-work-cost-") as tmp:
        warm = Path(tmp) / "warm"
        decode_segment(clip_path(clips[0]), warm, start_s=0, end_s=1, width=64, height=36, fps=2)
        for clip in clips:
            seen = set()
            for width in (int(w) for w in args.widths.split(",")):
                found = measure(clip, width, args.fps, args.seconds, Path(tmp), args.repeat)
                size = (found[0]["width"], found[0]["height"])
                if size not in seen:  # a width over the source's gives the source size again
                    seen.add(size)
                    rows += found
    print("format  jobs  base_s  per_mpf_s | median s/MPF: decode+select  encode  total (min-max)")
    fitted = {}
    for fmt in FORMATS:
        mine = [r for r in rows if r["format"] == fmt]
        mpf = [float(r["mpf"]) for r in mine]
        total = [float(r["decode_s"]) + float(r["select_s"]) + float(r["encode_s"]) for r in mine]
        fit = statistics.linear_regression(mpf, total)
        per = [t / m for t, m in zip(total, mpf, strict=True)]
        dec = statistics.median(
            (float(r["decode_s"]) + float(r["select_s"])) / float(r["mpf"]) for r in mine
        )
        enc = statistics.median(float(r["encode_s"]) / float(r["mpf"]) for r in mine)
        fitted[fmt] = {"base_s": round(fit.intercept, 3), "per_mpf_s": round(fit.slope, 4)}
        print(
            f"{fmt:<7} {len(mine):>4}  {fit.intercept:>6.3f}  {fit.slope:>9.4f} | "
            f"{dec:>26.3f}  {enc:>6.3f}  {statistics.median(per):.3f} "
            f"({min(per):.3f}-{max(per):.3f})"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "fitted": fitted}, indent=1))


if __name__ == "__main__":
    main()
