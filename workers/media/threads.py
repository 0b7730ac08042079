"""How many threads one job may use: the cores this worker may run on, shared by the jobs it runs
at once.

    threads per job = max(1, floor(cores / jobs at once))

``cores``: the CPUs the process may run on (its affinity: ``taskset``, a cpuset, ``docker run
--cpuset-cpus``), capped by a cgroup CPU quota if one applies (``docker run --cpus``, a
Kubernetes CPU limit: cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, the smallest over the
process's cgroup and its ancestors). ``jobs at once``: the worker's pool processes
(``--concurrency``). ``ANIMGRAPH_WORKER_THREADS`` overrides the result: for several workers on
one host, which do not know of each other (or give each its own cores with ``taskset``).

The worker computes it once in its main process, before the pool forks (``configure``, from
``workers/tasks.py``); each pool process inherits it. Without ``configure`` (the media code called
in a plain process: tests, benchmarks) a job may use every core. The users take their share:

- the GIF coder codes ``min(GIF_THREADS, n)`` frames at once (the same bytes for any count);
- the WebP encoder cuts the frames into at most ``min(WEBP_THREADS, n)`` runs (each run starts
  with a key frame: the bytes change slightly with the count of runs);
- MP4/WebM encoders use ``min(VIDEO_THREADS, n)`` threads (x264's and libvpx's output changes
  slightly with it);
- FFmpeg's decoders use ``n`` threads (``decoder_threads``; before, FFmpeg's own choice: every
  core and one more); a decoder's output does not depend on its thread count.
"""

from __future__ import annotations

import logging
import math
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CpuShare",
    "available_cores",
    "cgroup_cpu_quota",
    "configure",
    "current",
    "decoder_threads",
    "job_threads",
    "threads_per_job",
]

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def threads_per_job(cores: float, jobs: int, override: int | None = None) -> int:
    """The rule: ``override`` if given, else the whole cores each of ``jobs`` concurrent jobs
    gets of ``cores`` (a fractional quota counts its whole cores), at least 1."""
    if override is not None:
        return max(1, override)
    return max(1, math.floor(cores / max(1, jobs) + 1e-9))


@dataclass(frozen=True, slots=True)
class CpuShare:
    """What a worker process decided: ``threads`` per job of ``cores`` shared by ``jobs``."""

    threads: int
    cores: float
    jobs: int
    override: int | None = None

    def describe(self) -> str:
        """The worker's startup line: ``threads per job: 1 (2 cores / 2 processes)``."""
        cores = f"{self.cores:g} core{'s' if self.cores != 1 else ''}"
        jobs = f"{self.jobs} process{'es' if self.jobs != 1 else ''}"
        why = f"ANIMGRAPH_WORKER_THREADS; {cores}, {jobs}" if self.override else f"{cores} / {jobs}"
        return f"threads per job: {self.threads} ({why})"


def available_cores(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float:
    """The cores this process may use: its affinity, capped by a cgroup CPU quota."""
    try:
        cores: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root, proc_cgroup)
    return cores if quota is None else max(min(cores, quota), 1e-3)


def cgroup_cpu_quota(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """The CPU quota (in cores) of this process's cgroup and its ancestors, the smallest; None
    when none is set. cgroup v2 (``cpu.max``: ``max 100000`` or ``200000 100000``) first, then
    v1 (``cpu.cfs_quota_us``, -1 for none, over ``cpu.cfs_period_us``)."""
    v2, v1 = _cgroup_paths(proc_cgroup)
    quotas = [q for d in _ancestors(root, v2) if (q := _v2_quota(d)) is not None]
    if not quotas:
        for mount in ("cpu", "cpu,cpuacct"):
            quotas = [q for d in _ancestors(root / mount, v1) if (q := _v1_quota(d)) is not None]
            if quotas:
                break
    return min(quotas) if quotas else None


def _cgroup_paths(proc_cgroup: Path) -> tuple[str, str]:
    """This process's cgroup v2 path and v1 ``cpu`` controller path ("/" when not listed: a
    cgroup namespace shows the container's own cgroup as the root)."""
    v2 = v1 = "/"
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return v2, v1
    for line in lines:
        hierarchy, controllers, path = [*line.split(":", 2), "", ""][:3]
        if hierarchy == "0" and controllers == "":
            v2 = path or "/"
        elif "cpu" in controllers.split(","):
            v1 = path or "/"
    return v2, v1


def _ancestors(base: Path, path: str) -> list[Path]:
    """``base``/``path`` and each folder above it up to ``base``."""
    norm = posixpath.normpath("/" + path.lstrip("/"))
    found = [base / norm.lstrip("/")]
    while norm != "/":
        norm = posixpath.dirname(norm)
        found.append(base / norm.lstrip("/"))
    return found


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return _cores(quota, period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return _cores(quota, period)


def _cores(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    return q / p if q > 0 and p > 0 else None


_share: CpuShare | None = None


def configure(jobs: int, override: int | None = None) -> CpuShare:
    """Decide, in the worker's main process before its pool forks, the threads of each of the
    ``jobs`` it runs at once (``override``: ANIMGRAPH_WORKER_THREADS); logged once."""
    global _share
    cores = available_cores()
    _share = CpuShare(threads_per_job(cores, jobs, override), cores, max(1, jobs), override)
    log.info("%s", _share.describe())
    return _share


def current() -> CpuShare:
    """This process's share: what ``configure`` decided, else (not in a worker) every core for
    one job."""
    if _share is not None:
        return _share
    cores = available_cores()
    return CpuShare(threads_per_job(cores, 1), cores, 1)


def job_threads(most: int | None = None) -> int:
    """Threads a job may use, at most ``most``."""
    threads = current().threads
    return threads if most is None else max(1, min(most, threads))


def decoder_threads() -> int:
    """FFmpeg decoder ``thread_count``: the job's threads (never 0, FFmpeg's own choice, which
    takes every core of the machine and one more)."""
    return current().threads
