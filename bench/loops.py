"""Loops benchmark (issue 19): how visible the loop's jump is, Forward against Seamless, and what
the analysis costs. Not run in CI; ``.venv/bin/python bench/loops.py [--write]``.

For each clip (the corpus, then those of tests/data that are not the same file, then the
synthetic clip of the tests whose disc goes round a circle every 2.0 s, at crf 18 and lossless:
a loop that exists, 160 px wide, scaled up) and the GIF job
of ``bench/run.py`` (10 fps, 480 px wide, a 3 s segment from ``START_S``):

- Forward: the segment as requested, decoded at 480 px (``decode_segment``), selected and
  encoded with ``encode_gif`` at the default Quality, read back as a browser shows it;
- Seamless: the frames of the segment widened by the seam window (1 s) and the cross-fade on
  each side, thumbnailed (``thumbs.thumbnail``), cut-detected and searched (``seam.find_seam``);
  the loop it returns, with its cross-fade applied to the frames (``seam.fade_plan``,
  ``seam.crossfade``) when it has one, encoded the same way.

Seam visibility of an output: FLIP (``bench/metrics.flip``) of its last frame against its first
(the jump a viewer sees at the wrap), over the median FLIP of its consecutive frames; 1.0 is a
jump that looks like an ordinary frame step. Cross-faded loops report the largest FLIP step of
the faded frames and the jump instead (the same rule as SeamScore after a fade). SeamScore is
our own figure on thumbnails, for comparison.

Times (wall, this machine): ``analyse_source`` of the whole clip, ``detect_cuts``,
``find_seam`` (thumbnailing the widened window included), ``pick_highlight`` of 3 s (without
and with seams), and ``analyse_source`` of a 10-minute 720p H.264 file made by stream-copying
cockatoo.mp4 43 times. ``--write`` puts the tables in bench/README.md under "Loops".
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animgraph.workers.media.analyse import analyse_source
from animgraph.workers.media.decode import decode_segment
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.gif import encode_gif
from animgraph.workers.media.highlight import pick_highlight
from animgraph.workers.media.probe import probe
from animgraph.workers.media.seam import (
    CROSSFADE_S,
    Seam,
    crossfade,
    fade_plan,
    find_seam,
    seam_score,
)
from animgraph.workers.media.select import Selection, Shown, select_frames
from animgraph.workers.media.shots import detect_cuts, runs
from animgraph.workers.media.thumbs import thumbnail
from bench import metrics
from bench.corpus import BY_NAME, FIRST, clip_path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
DATA = HERE.parent / "tests" / "data"
START_S = {name: BY_NAME[name].start_s for name in FIRST}  # as bench/run.py
CIRCLE = "circle (synthetic, 2.0 s period, noise +-3)"
CLEAN_CIRCLE = "circle (synthetic, 2.0 s period, no noise, lossless H.264)"
START_S[CIRCLE] = START_S[CLEAN_CIRCLE] = 0.5
FPS, WIDTH, DURATION_S, QUALITY = 10, 480, 3.0, 75.0
WINDOW_S = 1.0
LONG_COPIES = 43  # 43 x 14 s of cockatoo.mp4: 10 minutes


NOTES = """Reading the numbers (by hand, from a run of this script on 2026-12-04):

- No loop exists within 1 s of the corpus segments (city.mpg pans, cockatoo.mp4 is fast
  hand-held motion, vtest.avi has people walking through): the seam search's best cost stays
  above 2 frame steps, so Seamless keeps the requested offsets and cross-fades 4 frames (0.4 s).
  The wrap's FLIP visibility drops from 2.7-3.1 to 1.5-2.3 (vtest.avi keeps the most: people
  appear doubled during the fade, and the GIF's temporal hold adds to it, 1.85 before encoding).
- On the synthetic circular path Seamless finds the period (a loop of 2.0 or 4.0 s, the closest
  to the request of the equally good ones): before encoding, its wrap is 1.10 FLIP steps when
  the clip is clean and lossless. Two things make it look larger in the outputs, neither of them
  the seam: (1) the GIF encoder shows the wrap at about 1.5 steps even then: its temporal hold
  and its transparent unchanged pixels make every ordinary step small, but the first frame is a
  complete picture, so at the wrap every pixel the hold (or the lossy LZW) kept a little off
  snaps back: at Quality 100, which has neither, the same loop's GIF wraps at 0.92 steps.
  Encoding the loop cyclically (the first frame held against the last) would remove that; (2) at
  crf 18 with sensor noise, FLIP at 480 px sees that x264 codes the blocky background
  differently in frames 2 s apart (FLIP 0.055 between two frames with the disc in the same
  place, against 0.045 for a step whose background the codec carried over from the frame before;
  0.09 at each keyframe), which the 64 px thumbnails of SeamScore average out (1.33).
- SeamScore ranks the outputs as the FLIP ratio does, on a wider scale (city.mpg's pan: 7.6 on
  thumbnails, 2.95 for FLIP, which saturates on large differences).
- Seamless adds a few tenths of a second to a job (thumbnails of the ~5 s widened window at
  480 px and the search); a highlight adds the analysis decode (0.03-0.7 s on these clips, 1.3 s
  for 10 minutes) and a few milliseconds, or 0.05-0.15 s with seams."""


@dataclass
class Row:
    clip: str
    forward_flip: float
    seamless_flip: float
    forward_source_flip: float
    seamless_source_flip: float
    forward_score: float
    seamless_score: float
    seam: Seam
    analyse_s: float
    frames: int
    cuts_s: float
    cuts: list[float]
    seam_s: float
    highlight_s: float
    highlight_seam_s: float
    highlight: tuple[float, float]


def clips(work: Path) -> list[tuple[str, Path]]:
    """(label, path) of the corpus clips, the tests/data clips that differ from them and the
    synthetic circular path."""
    out: list[tuple[str, Path]] = []
    seen: dict[str, str] = {}
    for name in FIRST:
        path = clip_path(name)
        seen[_digest(path)] = name
        out.append((name, path))
    for path in sorted(DATA.glob("*.*")):
        if path.suffix in {".md"} or _digest(path) in seen:
            continue
        out.append((f"tests/data/{path.name}", path))
    sys.path.insert(0, str(HERE.parent / "tests"))
    from loop_clips import circle_clip

    out.append((CIRCLE, circle_clip(work / "circle.mp4")))
    out.append((CLEAN_CIRCLE, circle_clip(work / "clean-circle.mp4", noise=0, lossless=True)))
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visibility(frames: list[Any], faded: set[int]) -> float:
    """FLIP of the wrap (or the worst step into, through or out of the faded frames) over the
    median FLIP of the other frame steps of the looping ``frames``."""
    n = len(frames)
    steps = [metrics.flip(frames[k], frames[(k + 1) % n]) for k in range(n)]
    seam = {k for k in range(n) if k == n - 1 or k in faded or (k + 1) % n in faded}
    ordinary = statistics.median(steps[k] for k in range(n) if k not in seam)
    return max(steps[k] for k in seam) / ordinary


def encode(
    frames: FrameSet, selection: Selection, fades: dict[int, Any], dest: Path
) -> tuple[list[Any], list[Any]]:
    """Encode the shown frames (cross-faded where ``fades`` says) as the pipeline's GIF; return
    the frames given to the encoder and those of the GIF as a browser shows them."""
    given: list[Any] = []
    with (
        frames.reader() as reader,
        FrameWriter(dest.parent / f"{dest.stem}-frames", frames.width, frames.height) as out,
    ):
        for position, shown in enumerate(selection):
            rgb = reader.frame(shown.index)
            fade = fades.get(position)
            if fade is not None:
                rgb = crossfade(rgb, reader.frame(fade.source_index), fade.alpha)
            out.append(rgb, shown.start_s)
            given.append(rgb)
    shown_frames = FrameSet.load(out.directory)
    renumbered = tuple(Shown(k, s.start_s, s.duration_s) for k, s in enumerate(selection))
    encode_gif(shown_frames, renumbered, dest, quality=QUALITY)
    return given, metrics.read_animation(dest).frames


def run_clip(label: str, path: Path, work: Path) -> Row:
    start = START_S[Path(label).name if label.startswith("tests/") else label]
    end = start + DURATION_S
    meta = probe(path)
    height = metrics.expected_height(meta.display_width, meta.display_height, WIDTH)
    length = meta.meta.video_duration

    t = time.perf_counter()
    thumbs_all, pts_all = analyse_source(path)
    analyse_s = time.perf_counter() - t
    t = time.perf_counter()
    cuts_all = detect_cuts(thumbs_all, pts_all)
    cuts_s = time.perf_counter() - t
    t = time.perf_counter()
    best = pick_highlight(thumbs_all, pts_all, duration_s=DURATION_S, cuts=cuts_all, fps=FPS)
    highlight_s = time.perf_counter() - t
    t = time.perf_counter()
    pick_highlight(
        thumbs_all, pts_all, duration_s=DURATION_S, cuts=cuts_all, seamless=True, fps=FPS
    )
    highlight_seam_s = time.perf_counter() - t

    # Forward: the segment as requested.
    plain = decode_segment(
        path, work / "forward", start_s=start, end_s=end, width=WIDTH, height=height, fps=FPS
    )
    forward_sel = select_frames(plain.pts_s, start_s=start, end_s=end, fps=FPS)
    forward_in, forward_gif = encode(plain, forward_sel, {}, work / "forward.gif")

    # Seamless: every frame of the widened window, the seam search on their thumbnails.
    margin = WINDOW_S + CROSSFADE_S
    wide = decode_segment(
        path,
        work / "wide",
        start_s=max(start - margin, 0.0),
        end_s=min(end + margin, length),
        width=WIDTH,
        height=height,
    )
    t = time.perf_counter()
    with wide.reader() as reader:
        thumbs = [thumbnail(reader.frame(i)) for i in range(len(wide))]
    cuts = detect_cuts(thumbs, wide.pts_s)
    seam = find_seam(
        thumbs, wide.pts_s, start_s=start, end_s=end, window_s=WINDOW_S, fps=FPS, cuts=cuts
    )
    seam_s = time.perf_counter() - t
    seam_sel = select_frames(wide.pts_s, start_s=seam.start_s, end_s=seam.end_s, fps=FPS)
    fades: dict[int, Any] = {}
    if seam.crossfade_frames:
        plan = fade_plan(
            wide.pts_s,
            start_s=seam.start_s,
            end_s=seam.end_s,
            fps=FPS,
            frames=seam.crossfade_frames,
            cuts=cuts,
        )
        fades = {f.position: f for f in plan}
    seamless_in, seamless_gif = encode(wide, seam_sel, fades, work / "seamless.gif")
    forward_score = seam_score(thumbs, wide.pts_s, start_s=start, end_s=end, fps=FPS)
    return Row(
        label,
        visibility(forward_gif, set()),
        visibility(seamless_gif, set(fades)),
        visibility(forward_in, set()),
        visibility(seamless_in, set(fades)),
        forward_score,
        seam.score,
        seam,
        analyse_s,
        len(pts_all),
        cuts_s,
        [round(pts_all[c], 2) for c in cuts_all],
        seam_s,
        highlight_s,
        highlight_seam_s,
        (best.start_s, best.end_s),
    )


def long_source(work: Path) -> tuple[Path, float]:
    """cockatoo.mp4's video stream copied LONG_COPIES times one after the other (no re-encode)."""
    src = clip_path("cockatoo.mp4")
    dest = work / "long.mp4"
    with av.open(str(src)) as inp, av.open(str(dest), mode="w") as out:
        ins = inp.streams.video[0]
        outs = out.add_stream_from_template(ins)
        packets = [p for p in inp.demux(ins) if p.dts is not None]
        step = max(p.pts for p in packets) + max(p.duration for p in packets)
        for k in range(LONG_COPIES):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts = p.pts + k * step, p.dts + k * step
                copy.duration = p.duration
                copy.is_keyframe = p.is_keyframe
                copy.time_base = ins.time_base
                copy.stream = outs
                out.mux(copy)
    return dest, probe(dest).meta.video_duration


def table(rows: list[Row], long_row: tuple[float, float, int, int]) -> list[str]:
    lines = [
        f"GIF {FPS} fps, {WIDTH} px, a {DURATION_S:g} s segment from the start bench/run.py "
        f"uses; seam window {WINDOW_S:g} s. Seam visibility = FLIP of the jump (or of the worst "
        "faded step) / median FLIP of the frame steps of the encoded GIF (1.0: the jump looks "
        "like a frame step), and of the frames given to the encoder (Forward / Seamless); "
        "SeamScore = the same ratio on our thumbnails.",
        "",
        "| clip | Forward FLIP ratio | Seamless FLIP ratio | the same before encoding "
        "| Forward SeamScore | Seamless SeamScore | seam [s, e) | fade frames |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.clip} | {r.forward_flip:.2f} | {r.seamless_flip:.2f} | "
            f"{r.forward_source_flip:.2f} / {r.seamless_source_flip:.2f} | {r.forward_score:.2f} | "
            f"{r.seamless_score:.2f} | {r.seam.start_s:.2f}-{r.seam.end_s:.2f} | "
            f"{r.seam.crossfade_frames} |"
        )
    lines += [
        "",
        "Times (wall, s): the analysis decode of the whole clip (thumbnails of every frame), "
        "the cut detector on it, the seam search (thumbnails of the 480 px frames of the widened "
        "window included), and a 3 s highlight without and with seams.",
        "",
        "| clip | analyse_source | frames | cuts found at (s) | detect_cuts | find_seam "
        "| pick_highlight | pick_highlight seamless | highlight picked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cuts = ", ".join(f"{c:g}" for c in r.cuts) or "none"
        lines.append(
            f"| {r.clip} | {r.analyse_s:.2f} | {r.frames} | {cuts} | {r.cuts_s:.3f} | "
            f"{r.seam_s:.3f} | {r.highlight_s:.3f} | {r.highlight_seam_s:.3f} | "
            f"{r.highlight[0]:.1f}-{r.highlight[1]:.1f} |"
        )
    seconds, duration, frames, runs = long_row
    lines += [
        "",
        f"A {duration / 60:.1f}-minute 720p H.264 source (cockatoo.mp4 stream-copied "
        f"{LONG_COPIES} times): `analyse_source` sampled it in {runs} runs, {frames} frames, "
        f"in {seconds:.2f} s.",
        "",
        NOTES,
    ]
    return lines


def write_readme(lines: list[str]) -> None:
    """Replace (or add) the "## Loops" section of bench/README.md, keeping everything else."""
    text = README.read_text()
    section = "## Loops\n\n" + "\n".join(lines) + "\n"
    pattern = re.compile(r"^## Loops\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text)
    print(f"wrote {README}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the tables to bench/README.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = []
        for k, (label, path) in enumerate(clips(work)):
            print(f"{label} ...", flush=True)
            rows.append(run_clip(label, path, work / str(k)))
        long_path, duration = long_source(work)
        t = time.perf_counter()
        _, pts = analyse_source(long_path)
        seconds = time.perf_counter() - t
        long_row = (seconds, duration, len(pts), len(runs(pts)))
    lines = table(rows, long_row)
    print("\n".join(lines))
    if args.write:
        write_readme(lines)


if __name__ == "__main__":
    main()
