"""A byte budget (a template's ``MaxSize``) that the encoded animation never exceeds.

``encode_within`` encodes at the template's settings when that fits, and the output is then byte
for byte the encode without a budget (one full encode). When it does not fit (the budget
*binds*), it gives up, in this order and only as much as the budget asks:

1. **Quality**, from the template's down to ``QUALITY_FLOOR`` (10);
2. **palette size** (GIF only, ``PALETTES``), from what Quality 10 gives (88 colours) down to
   ``COLORS_FLOOR`` (32);
3. **frame rate**, down to half the template's, at least 1 fps (``retime``);
4. **width**, down to half, the height following the aspect, both even for video (``scaled``).

The stage that binds is the first whose floor fits (the stages before it at their floors, those
after it at the template's); its setting is searched. Frame rate and palette size move in whole
steps, so the stages before are then searched again with that setting fixed (the *fill*): the
result is the mildest setting in that order, width kept first, then frame rate, palette, Quality.
A full encode is aimed at ``TARGET`` (95 %) of the budget and kept anywhere in [``LOW`` (90 %),
100 %]. When even the floors do not fit, ``BudgetUnreachable`` carries the size of a real encode
at the floors.

The floors, measured on 3 s of the three test videos at 384-480 px from Quality 75: below
Quality 10 (libwebp quality 8; GIF lossy tolerance 2,800) a GIF shrinks by only 11-13 % more
while a WebP falls apart into blocks; 88 to 32 colours saves 8-11 % of a GIF, 32 to 16 only 6-7 %
more; half the frame rate then saves 31-47 % and half the width 52-73 % more.

Sizes are predicted by *probes* (``probe_windows``, ``probe_sample``): runs of
``PROBE_RUNS_OF`` (4) consecutive frames spread over the selection, the first at its start,
``PROBE_SHARE`` (15 %) of its frames and at least ``PROBE_LEAST`` (8), plus the first frame alone.
Runs keep the encoders' coding against the frame before as in the full encode; the windows are
fixed in display time, so the probes of every frame rate sample the same moments. A probe is
extrapolated per frame after the first (``extrapolate``), the first being a key frame. Before
any calibration a prediction at the template's settings was 0.78-1.06 of the real size (both
formats, Quality 75/40/10); at other frame rates and widths it drifts further on footage the
encoder holds still (vtest.avi as WebP: 0.61-0.97), so each full encode calibrates: a prediction
is scaled by the real over predicted sizes of the full encodes, weighted by the inverse square
of their distance in (log frame rate, log width, log colours / 2, Quality / 100). A probe byte
for byte that of a full encode gives that encode's size, so a Quality step the encoder rounds
away (to a whole crf) costs no second full encode. The plain encode is skipped when its
prediction is over ``SKIP_PLAIN_ABOVE`` (1.5) budgets.

Searches are regula falsi (Illinois) on the log of the predicted size between a setting over the
target and one under, Quality in tenths, the other settings by their unit; a prediction within
``PREDICTION_BAND`` (3 %) of the target is encoded in full, at most ``MAX_ENCODES`` (6) times.

Cost, measured over 9 binding budgets a format (GIF 10/30/60 %, WebP 20/40/75 % of the plain
size) on 5-10 s of the test videos at 320-384 px (60-120 frames): 1.44 full encodes a job on
average, at most 3; probes encoding 0.98 of the selection's frames (0.6-2.3); CPU time 2.1 times
a plain encode's (0.8-4.4). On 2 s (24 frames, a probe 8 + 1 of them): 1.50 full encodes, CPU 3.4
times. A budget that does not bind costs one probe more than the plain encode (CPU 1.1-1.4
times). Every output landed at 0.90-1.00 of its budget. An encoder whose Quality steps change
the size by more than 10 % (x264 at a whole crf: 12-18 %) cannot always land in the window:
the output is then the largest encode under the budget.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from animgraph.workers.media.encode import ENCODERS
from animgraph.workers.media.framestore import FrameSet, FrameWriter
from animgraph.workers.media.gif import encode_gif
from animgraph.workers.media.progress import Progress, ignore_progress
from animgraph.workers.media.quality import gif_max_colors, webp_hold
from animgraph.workers.media.select import Selection, Shown, slot_starts
from animgraph.workers.media.stills import scene_stillness
from animgraph.workers.media.timing import WEBP_MIN_DELAY_MS, display_delays

__all__ = [
    "COLORS_FLOOR",
    "LOW",
    "MAX_ENCODES",
    "PALETTES",
    "PROBE_LEAST",
    "PROBE_RUNS_OF",
    "PROBE_SHARE",
    "QUALITY_FLOOR",
    "RESULT_FILE_SIZE_TOO_LARGE",
    "SKIP_PLAIN_ABOVE",
    "TARGET",
    "BudgetUnreachable",
    "Choice",
    "Fitted",
    "PaletteStage",
    "encode_within",
    "extrapolate",
    "probe_sample",
    "probe_windows",
    "retime",
    "scaled",
]

RESULT_FILE_SIZE_TOO_LARGE = "InvalidInput.ResultFileSizeTooLarge"

QUALITY_FLOOR = 10.0
COLORS_FLOOR = 32
# The share of the template's frame rate and width the budget may go down to.
FPS_FLOOR_SHARE = 0.5
WIDTH_FLOOR_SHARE = 0.5
# A full encode is aimed at TARGET x budget and kept anywhere in [LOW, 1] x budget.
TARGET = 0.95
LOW = 0.90
# A prediction within this part of the target is good enough to spend a full encode on.
PREDICTION_BAND = 0.03
# The plain encode is skipped when its prediction is over this many budgets: a prediction was
# never more than 1 / 0.78 = 1.28 times the real size (module docstring).
SKIP_PLAIN_ABOVE = 1.5
# A probe: runs of PROBE_RUNS_OF frames, PROBE_SHARE of the frames, at least PROBE_LEAST.
PROBE_SHARE = 0.15
PROBE_RUNS_OF = 4
PROBE_LEAST = 8
# Full encodes before the largest one under the budget is kept (the test videos needed 3).
MAX_ENCODES = 6
# Search steps (probes) in one stage before the best bracket end is taken.
MAX_STEPS = 5
# Quality is searched in tenths.
QUALITY_STEP = 0.1
# Progress: the search's cost (in full encodes of the template's settings) at which about 78 %
# is reported; it rises towards 1 after.
EXPECTED_COST = 2.0

_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class Choice:
    """The settings of one encode: template ``quality``, ``fps``, ``width`` x ``height`` in px
    and, for a palette format, ``colors`` (None: what Quality gives)."""

    quality: float
    fps: int
    width: int
    height: int
    colors: int | None = None

    def describe(self) -> str:
        """The settings in words, for a message: 'Quality 10, 32 colours, 5 fps, 240x135'."""
        colours = "" if self.colors is None else f", {self.colors} colours"
        return f"Quality {self.quality:g}{colours}, {self.fps} fps, {self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class Fitted:
    """What ``encode_within`` wrote: its ``choice`` (colours filled in for a palette format),
    its ``size`` in bytes, the full ``encodes`` and ``probes`` it took, and the frames the probes
    encoded over the selection's frames (``probe_share``: their cost in full encodes, roughly)."""

    choice: Choice
    size: int
    encodes: int
    probes: int
    probe_share: float = 0.0


class BudgetUnreachable(Exception):
    """Even the floors of every setting give more than ``max_size`` bytes: ``smallest`` is the
    size of a real encode at the floors (``choice``). ``str()`` is safe to show a user; the step
    reports it with the code ``RESULT_FILE_SIZE_TOO_LARGE``."""

    def __init__(self, smallest: int, max_size: int, choice: Choice) -> None:
        self.smallest = smallest
        self.max_size = max_size
        self.choice = choice
        self.message = (
            f"the smallest output reachable is {smallest} bytes, over MaxSize {max_size}"
            f" ({choice.describe()})"
        )
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[BudgetUnreachable], tuple[int, int, Choice]]:
        return (type(self), (self.smallest, self.max_size, self.choice))


class PaletteEncoder(Protocol):
    """An encoder (``encode.Encoder``) whose palette size can be capped (``max_colors``)."""

    def __call__(
        self,
        frames: FrameSet,
        selection: Selection,
        dest: Path,
        *,
        quality: float,
        progress: Progress | None = None,
        loop_count: int = 0,
        max_colors: int | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class PaletteStage:
    """A palette format's encoder and the palette size its Quality gives."""

    encode: PaletteEncoder
    colors: Callable[[float], int]


PALETTES: Mapping[str, PaletteStage] = {"gif": PaletteStage(encode_gif, gif_max_colors)}
"""The formats whose palette size is a setting the budget gives up (stage 2)."""


# --- The timeline and frame helpers ---------------------------------------------------------


def retime(selection: Selection, fps: int) -> Selection:
    """The same display timeline at ``fps``: for each slot of 1/fps s, the frame on screen at
    the slot's start; consecutive repeats merged. The total duration is unchanged and any order
    of source frames (reversed, ping-pong) is kept."""
    if not selection:
        return selection
    begin, end = selection[0].start_s, selection[-1].end_s
    starts = slot_starts(begin, end, fps)
    shown_starts = [s.start_s for s in selection]
    on_screen = [
        selection[max(bisect.bisect_right(shown_starts, t + _EPS_S) - 1, 0)] for t in starts
    ]
    merged: list[Shown] = []
    for shown, start, stop in zip(on_screen, starts, [*starts[1:], end], strict=True):
        if merged and merged[-1].index == shown.index:
            merged[-1] = Shown(shown.index, merged[-1].start_s, stop - merged[-1].start_s)
        elif stop - start > _EPS_S:
            merged.append(Shown(shown.index, start, stop - start))
    return tuple(merged)


def scaled(
    frames: FrameSet, selection: Selection, width: int, height: int, directory: Path
) -> tuple[FrameSet, Selection]:
    """The frames ``selection`` shows resized to ``width`` x ``height`` (Lanczos, as decode
    scales) in a new FrameSet in ``directory``, and the selection renumbered to it."""
    order = sorted({s.index for s in selection})
    renumber = {index: k for k, index in enumerate(order)}
    with frames.reader() as reader, FrameWriter(directory, width, height) as writer:
        for index in order:
            image = Image.fromarray(reader.frame(index), mode="RGB")
            writer.append(
                np.asarray(image.resize((width, height), Image.Resampling.LANCZOS)),
                frames.pts_s[index],
            )
    renumbered = tuple(Shown(renumber[s.index], s.start_s, s.duration_s) for s in selection)
    return FrameSet.load(directory), renumbered


Window = tuple[float, float]


def probe_windows(selection: Selection) -> tuple[Window, ...]:
    """Where a probe samples ``selection`` (at the template's frame rate): runs of about
    PROBE_RUNS_OF consecutive frames spread evenly over it, the first at its start, PROBE_SHARE
    of its frames and at least PROBE_LEAST, as (start_s, end_s) windows of display time; one
    window over everything for a selection too short to sample.

    Runs, not single frames, so that the encoders' coding of a frame against the one before
    (changed rectangles, inter prediction) is measured as in the full encode; windows of time,
    not frame numbers, so that the probes of every frame rate sample the same moments and one
    calibration holds for all of them."""
    n = len(selection)
    k = min(n, max(PROBE_LEAST, round(PROBE_SHARE * n)))
    if k >= n:
        return ((selection[0].start_s, selection[-1].end_s),)
    runs = max(1, round(k / PROBE_RUNS_OF))
    length = math.ceil(k / runs)
    firsts = [0 if runs == 1 else round(j * (n - length) / (runs - 1)) for j in range(runs)]
    return tuple((selection[f].start_s, selection[f + length - 1].end_s) for f in firsts)


def probe_sample(selection: Selection, windows: Sequence[Window]) -> Selection:
    """The frames of ``selection`` that start in ``windows`` (and the frame on screen at each
    window's start), laid one after the other on one timeline from the selection's start."""
    starts = [s.start_s for s in selection]
    laid: list[Shown] = []
    at = selection[0].start_s if selection else 0.0
    for begin, end in windows:
        first = max(bisect.bisect_right(starts, begin + _EPS_S) - 1, 0)
        stop = max(bisect.bisect_left(starts, end - _EPS_S), first + 1)
        for shown in selection[first:stop]:
            laid.append(Shown(shown.index, at, shown.duration_s))
            at += shown.duration_s
    return tuple(laid)


def extrapolate(first: int, sample: int, sample_frames: int, frames: int) -> float:
    """The size of ``frames`` frames from a probe of ``sample_frames`` (``sample`` bytes) and
    the first frame alone (``first`` bytes): the first frame plus the runs' mean cost of every
    frame after the first, times the frames after the first."""
    if sample_frames <= 1:
        return float(sample) * frames
    return first + (sample - first) * (frames - 1) / (sample_frames - 1)


# --- The search ---------------------------------------------------------------------------


def encode_within(
    fmt: str,
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    *,
    max_size: int,
    quality: float,
    fps: int,
    loop_count: int,
    scratch: Path,
    progress: Progress | None = None,
    even: bool = False,
) -> Fitted:
    """Write ``selection`` of ``frames`` (selected at ``fps``) to ``dest`` as ``fmt`` in at most
    ``max_size`` bytes, giving up Quality, palette size, frame rate and width in that order
    (module docstring). Scratch files (probes, scaled frames) go under ``scratch`` and are
    removed; ``even`` keeps a reduced width and height even (video formats).

    Raises BudgetUnreachable when the floors of every setting do not fit.
    """
    if fmt not in ENCODERS:
        raise ValueError(f"no encoder for the format {fmt!r}")
    if max_size < 1:
        raise ValueError(f"max_size must be positive, got {max_size}")
    if not selection:
        raise ValueError("cannot encode an empty selection")
    plain = Choice(float(quality), fps, frames.width, frames.height)
    stages = _ladder(fmt, plain, even)
    report = progress or ignore_progress
    with _Sizes(fmt, frames, selection, plain, dest, scratch, loop_count, report) as sizes:
        choice = _fit(sizes, stages, plain, max_size)
        os.replace(sizes.files[choice], dest)
        fitted = sizes.fitted(choice)
    report(1.0)
    return fitted


def _fit(sizes: _Sizes, stages: tuple[_Stage, ...], plain: Choice, budget: int) -> Choice:
    """The settings ``encode_within`` keeps, fully encoded: the plain ones when they fit, else
    the first full encode in [LOW, 1] x budget, else the largest under the budget."""
    estimate, _ = sizes.estimate(plain)
    if estimate <= SKIP_PLAIN_ABOVE * budget and sizes.encode(plain) <= budget:
        return plain
    floors = _point(stages, len(stages) - 1, 1.0, {}, plain)
    while sizes.encodes < MAX_ENCODES:
        choice = _search(sizes, stages, len(stages), {}, plain, budget)
        if choice in sizes.full and not _lands(sizes.full[choice], budget):
            break  # the search has nothing new to try
        size = sizes.encode(choice)
        if _lands(size, budget) or (choice == plain and size <= budget):
            return choice  # a plain encode that fits is kept whatever its size
        if choice == floors and size > budget:
            break
    if sizes.full.get(plain, budget + 1) <= budget:
        return plain
    under = [c for c, size in sizes.full.items() if size <= budget]
    if under:
        return max(under, key=sizes.full.__getitem__)
    smallest = sizes.encode(floors)
    if smallest > budget:
        raise BudgetUnreachable(smallest, budget, sizes.shown(floors))
    return floors


def _lands(size: float, budget: int) -> bool:
    """Whether a full encode of ``size`` bytes is kept: in [LOW, 1] x budget."""
    return LOW * budget <= size <= budget


def _search(
    sizes: _Sizes,
    stages: tuple[_Stage, ...],
    count: int,
    fixed: Mapping[int, float],
    plain: Choice,
    budget: int,
) -> Choice:
    """The mildest settings predicted to fit TARGET x budget, giving up the first ``count``
    stages in order (the later ones at ``fixed``): the first stage whose floor fits is searched;
    when its step leaves a gap (a whole fps less is far under the target), that setting is fixed
    and the stages before it are searched again at it (the fill)."""
    target = TARGET * budget
    top = _point(stages, 0, 0.0, fixed, plain)
    if count == 0 or _fits(sizes, top, target, budget):
        return top
    for k in range(count):
        floor = _point(stages, k, 1.0, fixed, plain)
        if _fits(sizes, floor, target, budget):
            break
    else:
        return floor  # over the target even at every floor
    choice = _bisect(sizes, stages, k, fixed, plain, target, budget)
    if k == 0 or _accepted(sizes, choice, target, budget):
        return choice
    value = _value_of(stages[k], choice)
    return _search(sizes, stages, k, {**fixed, k: value}, plain, budget)


def _fits(sizes: _Sizes, choice: Choice, target: float, budget: int) -> bool:
    """Whether ``choice`` is predicted at or under ``target`` (or within the band around it)."""
    estimate, exact = sizes.estimate(choice)
    return estimate <= budget if exact else estimate <= target * (1 + PREDICTION_BAND)


def _accepted(sizes: _Sizes, choice: Choice, target: float, budget: int) -> bool:
    """Whether ``choice`` is predicted close enough to the target to spend a full encode on."""
    estimate, exact = sizes.estimate(choice)
    if exact:
        return _lands(estimate, budget)
    return abs(math.log(estimate / target)) <= math.log1p(PREDICTION_BAND)


def _bisect(
    sizes: _Sizes,
    stages: tuple[_Stage, ...],
    k: int,
    fixed: Mapping[int, float],
    plain: Choice,
    target: float,
    budget: int,
) -> Choice:
    """Stage ``k`` searched between its start (over the target) and its floor (under): regula
    falsi on the log of the predicted size, Illinois-weighted; the mildest setting that fits
    once the two ends are a unit apart."""
    stage = stages[k]
    lo, hi = 0.0, 1.0
    goal = math.log(target)
    over = math.log(sizes.estimate(_point(stages, k, lo, fixed, plain))[0]) - goal
    under = math.log(sizes.estimate(_point(stages, k, hi, fixed, plain))[0]) - goal
    side = 0
    for _ in range(MAX_STEPS):
        if abs(stage.value(lo) - stage.value(hi)) <= stage.unit + 1e-9:
            break
        x = lo + (hi - lo) * over / (over - under) if over > under else (lo + hi) / 2
        x = min(max(x, lo + 0.05 * (hi - lo)), hi - 0.05 * (hi - lo))
        choice = _point(stages, k, x, fixed, plain)
        if _accepted(sizes, choice, target, budget):
            return choice
        error = math.log(sizes.estimate(choice)[0]) - goal
        if error > 0:
            lo, over = x, error
            under = under / 2 if side == 1 else under
            side = 1
        else:
            hi, under = x, error
            over = over / 2 if side == -1 else over
            side = -1
    return _point(stages, k, hi, fixed, plain)


# --- The stages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stage:
    """One setting the budget gives up: from ``start`` (the template's) to ``floor``, in steps
    of ``unit``, interpolated on a log scale when ``log``; ``apply`` sets it in a Choice."""

    name: str
    start: float
    floor: float
    unit: float
    apply: Callable[[Choice, float], Choice]
    log: bool = False

    def value(self, x: float) -> float:
        """The setting at ``x`` in [0, 1]: 0 the start, 1 the floor, whole units between."""
        if x <= 0:
            return self.start
        if x >= 1:
            return self.floor
        if self.log:
            v = math.exp(math.log(self.start) + x * (math.log(self.floor) - math.log(self.start)))
        else:
            v = self.start + x * (self.floor - self.start)
        return min(max(round(v / self.unit) * self.unit, self.floor), self.start)


def _ladder(fmt: str, plain: Choice, even: bool) -> tuple[_Stage, ...]:
    """The stages in the order they are given up, those that cannot move left out."""
    q_floor = min(plain.quality, QUALITY_FLOOR)
    stages = [_Stage("quality", plain.quality, q_floor, QUALITY_STEP, _set_quality)]
    palette = PALETTES.get(fmt)
    if palette is not None:
        given = palette.colors(q_floor)
        stages.append(
            _Stage("colors", given, min(given, COLORS_FLOOR), 1, _set_colors(given), log=True)
        )
    fps_floor = max(1, math.ceil(plain.fps * FPS_FLOOR_SHARE))
    stages.append(_Stage("fps", plain.fps, fps_floor, 1, _set_fps))
    step = 2 if even else 1
    width_floor = step * math.ceil(plain.width * WIDTH_FLOOR_SHARE / step)
    stages.append(
        _Stage("width", plain.width, min(width_floor, plain.width), step, _set_width(plain, step))
    )
    return tuple(s for s in stages if s.floor < s.start)


def _point(
    stages: tuple[_Stage, ...], k: int, x: float, fixed: Mapping[int, float], plain: Choice
) -> Choice:
    """The settings at ``x`` of stage ``k``: the stages before it at their floors, the later
    ones at ``fixed`` (else their start)."""
    choice = plain
    for j, stage in enumerate(stages):
        value = stage.floor if j < k else stage.value(x) if j == k else fixed.get(j, stage.start)
        choice = stage.apply(choice, value)
    return choice


def _value_of(stage: _Stage, choice: Choice) -> float:
    """The stage's setting in ``choice`` (the inverse of ``apply``)."""
    value = getattr(choice, stage.name)
    return stage.start if value is None else float(value)


def _set_quality(choice: Choice, value: float) -> Choice:
    """Quality in tenths."""
    return replace(choice, quality=round(value, 1))


def _set_fps(choice: Choice, value: float) -> Choice:
    """A whole frame rate."""
    return replace(choice, fps=round(value))


def _set_colors(given: int) -> Callable[[Choice, float], Choice]:
    """A whole palette size; None (what Quality gives) from ``given`` up."""

    def apply(choice: Choice, value: float) -> Choice:
        return replace(choice, colors=None if round(value) >= given else round(value))

    return apply


def _set_width(plain: Choice, step: int) -> Callable[[Choice, float], Choice]:
    """A width in ``step``s of px (2: even), the height following the plain aspect in the
    same steps; the plain size itself at the plain width."""

    def apply(choice: Choice, value: float) -> Choice:
        width = round(value)
        if width == plain.width:
            return replace(choice, width=plain.width, height=plain.height)
        height = max(step, step * round(width * plain.height / plain.width / step))
        return replace(choice, width=width, height=height)

    return apply


# --- Measuring: probes, full encodes, calibration ---------------------------------------------


class _Sizes:
    """Sizes of settings: predicted from a probe (calibrated by the full encodes) or measured
    by a full encode, each once. Full encodes are kept beside ``dest`` until one is
    chosen; probes and scaled frames go under ``scratch``. Used as a context manager, it
    removes both directories on exit."""

    def __init__(
        self,
        fmt: str,
        frames: FrameSet,
        selection: Selection,
        plain: Choice,
        dest: Path,
        scratch: Path,
        loop_count: int,
        progress: Progress,
    ) -> None:
        self.fmt = fmt
        self.frames = frames
        self.selection = selection
        self.plain = plain
        self.loop_count = loop_count
        # What a WebP's plan is made of, measured once on the plain frames: a probe's few
        # frames, a lower rate or a smaller width measure another still fraction, and a probe
        # coded to another plan than the full encode mispredicts it (webp.encode_webp).
        self.hints: dict[str, Any] = (
            {"stillness": scene_stillness(frames, [d.index for d in _webp_delays(selection)])}
            if fmt == "webp" and webp_hold(plain.quality)[0] > 0
            else {}
        )
        self.full: dict[Choice, int] = {}
        self.files: dict[Choice, Path] = {}
        self.encodes = 0
        self.probes = 0
        self.probe_frames = 0
        self._digests: dict[Choice, str] = {}
        self._twins: dict[tuple[int, int, int, str], Choice] = {}
        self._raw: dict[Choice, float] = {}
        self._windows = probe_windows(selection)
        self._timelines: dict[int, Selection] = {}
        self._views: dict[tuple[int, int, int, bool], tuple[FrameSet, Selection]] = {}
        self._meter = _Meter(progress)
        self._dirs = ExitStack()
        self._out = self._scratch = Path()
        self._places = (dest.parent, scratch)

    def __enter__(self) -> _Sizes:
        beside, scratch = self._places
        with ExitStack() as dirs:
            beside.mkdir(parents=True, exist_ok=True)
            scratch.mkdir(parents=True, exist_ok=True)
            out = tempfile.TemporaryDirectory(prefix=".budget.", dir=beside)
            self._out = Path(dirs.enter_context(out))
            work = tempfile.TemporaryDirectory(prefix="budget.", dir=scratch)
            self._scratch = Path(dirs.enter_context(work))
            self._dirs = dirs.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._dirs.close()

    def fitted(self, choice: Choice) -> Fitted:
        """The Fitted of a fully encoded ``choice``."""
        share = self.probe_frames / len(self.selection)
        return Fitted(self.shown(choice), self.full[choice], self.encodes, self.probes, share)

    def shown(self, choice: Choice) -> Choice:
        """``choice`` as reported: a palette format's colours filled in."""
        palette = PALETTES.get(self.fmt)
        if palette is None or choice.colors is not None:
            return choice
        return replace(choice, colors=palette.colors(choice.quality))

    def estimate(self, choice: Choice) -> tuple[float, bool]:
        """The size of ``choice`` and whether it is exact (measured by a full encode, which a
        selection too short to sample gets at once)."""
        if choice in self.full:
            return float(self.full[choice]), True
        if choice not in self._raw:
            selection = self._timeline(choice.fps)
            if len(probe_sample(selection, self._windows)) == len(selection):
                return float(self.encode(choice)), True
            self._raw[choice] = self._probe(choice)
            twin = self._twins.get(self._signature(choice))
            if twin is not None and twin in self.full:
                # Byte for byte the probe of a full encode: the same encoder settings (a Quality
                # step the encoder rounds away), so the same full size.
                self.full[choice] = self.full[twin]
                self.files[choice] = self.files[twin]
                return float(self.full[choice]), True
        return self._raw[choice] * self._ratio(choice), False

    def encode(self, choice: Choice) -> int:
        """Encode ``choice`` in full (once) and return its size; a probed choice calibrates the
        predictions after it."""
        if choice in self.full:
            return self.full[choice]
        frames, selection = self._view(choice, probe=False)
        dest = self._out / f"{len(self.full)}.{self.fmt}"
        cost = len(selection) * self._area(choice) / len(self.selection)
        with self._meter.part(cost) as report:
            _encode(self.fmt, frames, selection, dest, choice, self.loop_count, report, self.hints)
        size = dest.stat().st_size
        self.full[choice] = size
        self.files[choice] = dest
        self.encodes += 1
        if choice in self._raw:
            self._twins.setdefault(self._signature(choice), choice)
        return size

    def _signature(self, choice: Choice) -> tuple[int, int, int, str]:
        """What tells a probe's output apart: its frame rate, size and bytes."""
        return (choice.fps, choice.width, choice.height, self._digests[choice])

    def _ratio(self, choice: Choice) -> float:
        """The calibration of ``choice``'s prediction: the actual over predicted sizes of the
        full encodes, weighted by the inverse square of their distance from ``choice``
        (``_place``): exact at a full encode, between them in between; 1 before any."""
        here = self._place(choice)
        total = weights = 0.0
        for c in self.full:
            if c in self._raw:
                distance = math.dist(here, self._place(c))
                ratio = self.full[c] / self._raw[c]
                if distance < 1e-9:
                    return ratio
                total += ratio / distance**2
                weights += 1 / distance**2
        return total / weights if weights else 1.0

    def _place(self, choice: Choice) -> tuple[float, float, float, float]:
        """Where ``choice`` is for calibration: the logs of its frame rate, width and colours
        (half weight) and its Quality over 100. The scales make a probe's error move about as
        much along each (vtest.avi as WebP: 0.92 to 0.78 from 10 to 5 fps, 0.92 to 0.87 from
        Quality 75 to 10)."""
        colors = self.shown(choice).colors or 256
        return (
            math.log(choice.fps),
            math.log(choice.width),
            0.5 * math.log(colors),
            choice.quality / 100,
        )

    def _probe(self, choice: Choice) -> float:
        """The uncalibrated prediction of ``choice`` from a probe of its sample and of the
        sample's first frame alone."""
        frames, sample = self._view(choice, probe=True)
        count = len(self._timeline(choice.fps))
        dest = self._scratch / f"probe.{self.fmt}"
        cost = (len(sample) + 1) * self._area(choice) / len(self.selection)
        with self._meter.part(cost) as report:
            _encode(
                self.fmt, frames, sample[:1], dest, choice, self.loop_count, ignore_progress,
                self.hints,
            )  # fmt: skip
            first = dest.stat().st_size
            _encode(self.fmt, frames, sample, dest, choice, self.loop_count, report, self.hints)
        self.probes += 1
        self.probe_frames += len(sample) + 1
        data = dest.read_bytes()
        self._digests[choice] = hashlib.blake2b(data, digest_size=16).hexdigest()
        return extrapolate(first, len(data), len(sample), count)

    def _view(self, choice: Choice, *, probe: bool) -> tuple[FrameSet, Selection]:
        """The frames and selection (or probe sample) of ``choice``'s frame rate and size."""
        key = (choice.fps, choice.width, choice.height, probe)
        if key not in self._views:
            selection = self._timeline(choice.fps)
            if probe:
                selection = probe_sample(selection, self._windows)
            frames = self.frames
            if (choice.width, choice.height) != (self.frames.width, self.frames.height):
                directory = self._scratch / "-".join(map(str, key))
                frames, selection = scaled(
                    frames, selection, choice.width, choice.height, directory
                )
            self._views[key] = frames, selection
        return self._views[key]

    def _timeline(self, fps: int) -> Selection:
        """The selection at ``fps`` (``retime``; the given one at the template's)."""
        if fps == self.plain.fps:
            return self.selection
        if fps not in self._timelines:
            self._timelines[fps] = retime(self.selection, fps)
        return self._timelines[fps]

    def _area(self, choice: Choice) -> float:
        """The pixels of ``choice`` over the plain settings' (an encode's cost scales by it)."""
        return choice.width * choice.height / (self.plain.width * self.plain.height)


def _webp_delays(selection: Selection) -> list[Any]:
    """The frames a WebP of ``selection`` shows (as ``webp.encode_webp`` lays them out)."""
    return list(display_delays(selection, 1000, WEBP_MIN_DELAY_MS))


def _encode(
    fmt: str,
    frames: FrameSet,
    selection: Selection,
    dest: Path,
    choice: Choice,
    loop_count: int,
    progress: Progress,
    hints: dict[str, Any] | None = None,
) -> None:
    """Encode with ``fmt``'s encoder at ``choice``'s Quality (and palette size, when set);
    ``hints``: more keyword arguments of the encoder (a WebP's ``stillness``)."""
    if choice.colors is None:
        encoder = ENCODERS[fmt]
        encoder(
            frames,
            selection,
            dest,
            quality=choice.quality,
            progress=progress,
            loop_count=loop_count,
            **(hints or {}),
        )
    else:
        PALETTES[fmt].encode(
            frames, selection, dest, quality=choice.quality, progress=progress,
            loop_count=loop_count, max_colors=choice.colors,
        )  # fmt: skip


class _Meter:
    """Progress over the whole search: the cost spent (in full encodes of the plain settings)
    mapped to 0..1 by ``1 - exp(-1.5 cost / EXPECTED_COST)``, rising with every encode."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._spent = 0.0
        self._shown = 0.0

    @contextmanager
    def part(self, cost: float) -> Iterator[Progress]:
        """A progress callback for one encode of ``cost``; its cost is spent on exit."""

        def report(fraction: float) -> None:
            self._show(self._spent + cost * min(max(fraction, 0.0), 1.0))

        yield report
        self._spent += cost
        self._show(self._spent)

    def _show(self, spent: float) -> None:
        shown = 1 - math.exp(-1.5 * spent / EXPECTED_COST)
        if shown > self._shown:
            self._shown = shown
            self._progress(shown)
