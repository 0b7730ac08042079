"""Quality and correctness measures of an animated image (GIF, WebP, AVIF, APNG) or a short video
(MP4, WebM) against its source video.

The output is compared with the source frames shown at the same display times: at a sample time
the source frame on screen (decoded with PyAV, converted with the source's colour matrix and
range, scaled with Lanczos to the output size) is compared with the output frame on screen (from
the output's own frame delays). Measures:

- FLIP (NVIDIA's perceptual difference, ``flip-evaluator``, LDR, 67 ppd; lower is better), mean
  over ``FLIP_SAMPLES`` times spread over the segment at varying phases of the frame slots (an
  output frame stands for every source frame shown during its slot); half as many for frames
  over ``FLIP_FULL_PIXELS`` (FLIP costs 0.7 s a 1280x720 frame on 2 cores);
- SSIM on luma (7x7 window), mean over ``SSIM_SAMPLES`` such times;
- flicker: mean absolute change of output luma between the middles of consecutive frame slots,
  over the pixels whose source luma changed by at most ``STILL_LEVELS`` (0..255) between them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from PIL import Image

from animgraph.workers.media.probe import clockwise_rotation

Rgb = npt.NDArray[np.uint8]
# 12 times were measured to be off the mean over every phase of every slot by up to 13% on one
# output (gif-10fps city), more than the gaps the targets judge; 24 narrow that spread.
FLIP_SAMPLES = 24
FLIP_FULL_PIXELS = 480 * 360
SSIM_SAMPLES = 36
PHASES = 4  # sample phases per frame slot
STILL_LEVELS = 2.0
# Lanczos with swscale's exact rounding and full chroma interpolation. Plain LANCZOS takes
# swscale's fast 4:2:0 path, which on city.mpg and vtest.avi comes out 0.9-1.8 levels darker per
# channel than the exact BT.601 conversion (FLIP 0.047 for a perfect copy of the source frames);
# with these flags the mean error is under 0.1 level (tests/bench/test_reference_frames.py).
REFERENCE_INTERPOLATION = (
    Interpolation.LANCZOS | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
)
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass
class Animation:
    """A decoded animated image: composited RGB frames and their delays."""

    width: int
    height: int
    durations_ms: list[int]
    loop: int | None  # 0: forever; None: no loop extension (plays once)
    frames: list[Rgb] = field(repr=False)

    @property
    def total_ms(self) -> int:
        return sum(self.durations_ms)

    def frame_at(self, t_s: float) -> Rgb:
        """The frame on screen ``t_s`` seconds after the animation starts."""
        elapsed = 0.0
        for frame, ms in zip(self.frames, self.durations_ms, strict=True):
            elapsed += ms / 1000
            if t_s < elapsed:
                return frame
        return self.frames[-1]


VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mkv", ".mov"})


def read_animation(path: Path) -> Animation:
    """Decode every frame of a GIF, WebP, AVIF or APNG (composited, as a browser shows it) with
    Pillow, or of an MP4 or WebM with PyAV (``read_video``)."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return read_video(path)
    with Image.open(path) as im:
        n = getattr(im, "n_frames", 1)
        frames: list[Rgb] = []
        durations: list[int] = []
        loop = im.info.get("loop")
        if loop is None and im.format == "AVIF":
            loop = 0  # an AVIF image sequence has no loop count: browsers play it forever
        for i in range(n):
            im.seek(i)
            im.load()  # WebP: the frame's duration is known once it is loaded
            durations.append(int(im.info.get("duration", 0)))
            frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8).copy())
        return Animation(im.width, im.height, durations, loop, frames)


def read_video(path: Path) -> Animation:
    """Decode every frame of a video (MP4, WebM) to RGB24 with the matrix and range it is
    tagged with (``_colorspace``, ``_range``: an untagged one by its size, as for sources).

    Frame durations come from the presentation times, in whole milliseconds with the rounding
    carried forward; the last frame's from its own duration. ``loop`` is 0: a video loops when
    the player is told to (``<video loop>``), which is how these outputs are meant to be shown.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        tb = stream.time_base
        assert tb is not None, f"{path}: no time base"
        frames: list[Rgb] = []
        starts: list[float] = []
        last_s = 0.0
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            frames.append(_rgb(frame, frame.width, frame.height))
            starts.append(float(frame.pts * tb))
            last_s = float((frame.duration or 0) * tb)
        if not frames:
            raise ValueError(f"{path}: no video frame")
        order = sorted(range(len(starts)), key=starts.__getitem__)
        origin = starts[order[0]]
        times = [starts[k] - origin for k in order]
        if last_s <= 0:  # no duration on the last frame: the mean step
            last_s = times[-1] / (len(times) - 1) if len(times) > 1 else 0.1
        times.append(times[-1] + last_s)
        ms = [round(t * 1000) for t in times]
        durations = [b - a for a, b in itertools.pairwise(ms)]
        h, w = frames[0].shape[:2]
        return Animation(w, h, durations, 0, [frames[k] for k in order])


# --- reference frames --------------------------------------------------------------------------

_COLORSPACES = {1: Colorspace.ITU709, 5: Colorspace.ITU601, 6: Colorspace.ITU601}


def _colorspace(frame: Any) -> Colorspace:
    tagged = _COLORSPACES.get(int(frame.colorspace))
    if tagged is not None:
        return tagged
    return Colorspace.ITU709 if frame.height >= 720 or frame.width >= 1280 else Colorspace.ITU601


def _range(frame: Any) -> ColorRange:
    if int(frame.color_range) == 2 or frame.format.name.startswith("yuvj"):
        return ColorRange.JPEG
    return ColorRange.MPEG


def slot_times(duration_s: float, fps: float) -> list[float]:
    """Middles of the job's frame slots (consecutive output frames, for flicker)."""
    n = max(1, round(duration_s * fps))
    return [(k + 0.5) / fps for k in range(n)]


def quality_times(duration_s: float, fps: float, count: int) -> list[float]:
    """``count`` times spread evenly over the segment, each at a different phase of its slot.

    The output frame of a slot stands for every source frame shown during the slot, so errors
    are sampled over the whole timeline, not only at one phase of each slot.
    """
    n = max(1, round(duration_s * fps)) * PHASES
    fine = [(j + 0.5) / (fps * PHASES) for j in range(n)]
    picks = sorted({round(i) for i in np.linspace(0, n - 1, min(count, n))})
    return [fine[i] for i in picks]


def _source_frames(video: Path, start_s: float, end_s: float) -> Iterator[tuple[float, Any]]:
    """(time on the video's own timeline from its start, frame) for frames up to ``end_s``."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        origin = 0.0
        if stream.start_time is not None:
            origin = float(stream.start_time * stream.time_base)
        elif container.start_time is not None:
            origin = container.start_time / 1_000_000
        seek = start_s - 1.0
        if seek > 0:
            container.seek(int((origin + seek) / stream.time_base), stream=stream, backward=True)
        for packet in container.demux(stream):
            if packet.size == 0 and packet.dts is not None:
                continue  # Ogg Theora's "the previous frame again" (the decoder refuses it)
            for frame in packet.decode():
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - origin
                yield t, frame
                if t > end_s:
                    return


def reference_frames(
    video: Path, start_s: float, duration_s: float, times_s: list[float], width: int, height: int
) -> list[Rgb]:
    """The source frame on screen at each time (from ``start_s``; increasing), as RGB24."""
    times = [start_s + t for t in times_s]
    out: list[Rgb] = []
    prev: tuple[float, Any] | None = None
    pending = iter(times)
    target = next(pending, None)
    for t, frame in _source_frames(video, start_s, start_s + duration_s):
        while target is not None and t > target + 1e-6:
            assert prev is not None, f"{video}: no frame at {target:.3f} s"
            out.append(_rgb(prev[1], width, height))
            target = next(pending, None)
        prev = (t, frame)
        if target is None:
            break
    while target is not None and prev is not None:
        out.append(_rgb(prev[1], width, height))
        target = next(pending, None)
    return out


def _rgb(frame: Any, width: int, height: int) -> Rgb:
    """The frame as shown (its display rotation applied) at ``width`` x ``height``."""
    turn = clockwise_rotation(frame.rotation)
    w, h = (height, width) if turn in (90, 270) else (width, height)
    rgb = frame.reformat(
        width=w,
        height=h,
        format="rgb24",
        src_colorspace=_colorspace(frame),
        src_color_range=_range(frame),
        dst_color_range=ColorRange.JPEG,
        interpolation=REFERENCE_INTERPOLATION,
    )
    shown = np.asarray(rgb.to_ndarray(), dtype=np.uint8)
    return np.ascontiguousarray(np.rot90(shown, k=-turn // 90)) if turn else shown


# --- measures ----------------------------------------------------------------------------------


def luma(rgb: Rgb) -> npt.NDArray[np.float32]:
    return np.asarray(rgb, dtype=np.float32) @ _LUMA


def _box(a: npt.NDArray[np.float64], r: int) -> npt.NDArray[np.float64]:
    """Mean over (2r+1)^2 windows, valid region only."""
    k = 2 * r + 1
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), axis=0), axis=1)
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return np.asarray(s / (k * k), dtype=np.float64)


def ssim(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """SSIM of two luma planes (0..255), 7x7 uniform window, as scikit-image's default."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box(x, 3), _box(y, 3)
    n = 49
    vx = (_box(x * x, 3) - mx * mx) * n / (n - 1)
    vy = (_box(y * y, 3) - my * my) * n / (n - 1)
    cxy = (_box(x * y, 3) - mx * my) * n / (n - 1)
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def flip(reference: Rgb, test: Rgb) -> float:
    import flip_evaluator

    ref = np.asarray(reference, dtype=np.float32) / 255
    tst = np.asarray(test, dtype=np.float32) / 255
    _, mean, _ = flip_evaluator.evaluate(ref, tst, "LDR", applyMagma=False)
    return float(mean)


def flicker(refs: list[Rgb], outs: list[Rgb]) -> float:
    """Mean |output luma change| between consecutive samples where the source stood still."""
    total, count = 0.0, 0
    for k in range(1, len(refs)):
        still = np.abs(luma(refs[k]) - luma(refs[k - 1])) <= STILL_LEVELS
        n = int(still.sum())
        if n:
            total += float(np.abs(luma(outs[k]) - luma(outs[k - 1]))[still].sum())
            count += n
    return total / count if count else 0.0


@dataclass
class Quality:
    flip: float
    ssim: float
    flicker: float


@dataclass
class Reference:
    """Source frames at the sample times of one job, at one output size."""

    fps: float
    flip_times: list[float]
    flip_refs: list[Rgb]
    ssim_times: list[float]
    ssim_refs: list[Rgb]
    slot_times: list[float]
    slot_refs: list[Rgb]


def reference(
    video: Path, start_s: float, duration_s: float, fps: float, width: int, height: int
) -> Reference:
    flips = FLIP_SAMPLES if width * height <= FLIP_FULL_PIXELS else FLIP_SAMPLES // 2
    ft = quality_times(duration_s, fps, flips)
    st = quality_times(duration_s, fps, SSIM_SAMPLES)
    slots = slot_times(duration_s, fps)
    every = sorted(set(ft) | set(st) | set(slots))
    frames = dict(
        zip(every, reference_frames(video, start_s, duration_s, every, width, height), strict=True)
    )
    return Reference(
        fps, ft, [frames[t] for t in ft], st, [frames[t] for t in st], slots,
        [frames[t] for t in slots],
    )  # fmt: skip


def quality(anim: Animation, ref: Reference) -> Quality:
    """FLIP, luma SSIM and flicker of ``anim`` against the source frames of ``ref``."""
    flips = [flip(r, anim.frame_at(t)) for t, r in zip(ref.flip_times, ref.flip_refs, strict=True)]
    ssims = [
        ssim(luma(r), luma(anim.frame_at(t)))
        for t, r in zip(ref.ssim_times, ref.ssim_refs, strict=True)
    ]
    outs = [anim.frame_at(t) for t in ref.slot_times]
    return Quality(
        flip=float(np.mean(flips)), ssim=float(np.mean(ssims)), flicker=flicker(ref.slot_refs, outs)
    )


# --- correctness checks ------------------------------------------------------------------------


@dataclass
class Checks:
    frames: int
    expected_frames: float
    capped_frames: float  # duration x min(fps, source fps)
    total_ms: int
    expected_ms: float
    size: tuple[int, int]
    expected_width: int
    loops_forever: bool
    whole_slots: bool = False  # every frame lasts a whole number of output slots (+-10 ms)

    @property
    def frames_ok(self) -> bool:
        """Within one of the expected count, or fewer with every frame lasting whole slots:
        repeated pictures merged into one frame (a still scene, a screen recording's dropped
        frames), which shows the same."""
        near = min(abs(self.frames - n) for n in (self.expected_frames, self.capped_frames)) <= 1
        return near or (self.frames < self.expected_frames and self.whole_slots)

    @property
    def duration_ok(self) -> bool:
        return abs(self.total_ms - self.expected_ms) <= 10

    @property
    def size_ok(self) -> bool:
        return self.size[0] == self.expected_width

    @property
    def ok(self) -> bool:
        return self.frames_ok and self.duration_ok and self.size_ok and self.loops_forever

    def failures(self) -> list[str]:
        out = []
        if not self.frames_ok:
            out.append(
                f"frames {self.frames} "
                f"(want {self.expected_frames:g} or {self.capped_frames:g}, ±1)"
            )
        if not self.duration_ok:
            out.append(f"duration {self.total_ms} ms (want {self.expected_ms:g}±10)")
        if not self.size_ok:
            out.append(f"width {self.size[0]} (want {self.expected_width})")
        if not self.loops_forever:
            out.append("does not loop forever")
        return out


def checks(
    anim: Animation, duration_s: float, fps: float, width: int, source_fps: float | None = None
) -> Checks:
    """Frames within one of duration x fps (or of duration x the source's fps when that is
    lower: an output above the source rate may merge repeated frames instead of storing them
    twice; or fewer, each lasting whole output slots: merged repeats), total duration within
    10 ms, width, loops forever."""
    rate = min(fps, source_fps) if source_fps else fps
    slot_ms = 1000 / fps
    whole = all(
        d >= slot_ms - 10 and abs(d - round(d / slot_ms) * slot_ms) <= 10
        for d in anim.durations_ms[:-1]  # the last may be cut by the segment's end
    )
    return Checks(
        frames=len(anim.frames),
        expected_frames=duration_s * fps,
        capped_frames=duration_s * rate,
        total_ms=anim.total_ms,
        expected_ms=duration_s * 1000,
        size=(anim.width, anim.height),
        expected_width=width,
        loops_forever=anim.loop == 0,
        whole_slots=whole,
    )


def expected_height(src_w: int, src_h: int, width: int) -> int:
    return max(2, 2 * math.floor(src_h * width / src_w / 2 + 0.5))


def source_fps(video: Path) -> float | None:
    """The video stream's average frame rate."""
    with av.open(str(video)) as container:
        rate = container.streams.video[0].average_rate
        return float(rate) if rate else None
