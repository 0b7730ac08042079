"""Threads per job (``media/threads.py``): the rule, the cores it reads (affinity, cgroup CPU
quota), and the GIF coder's bytes whatever the count."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from animgraph.workers.media import threads
from animgraph.workers.media.framestore import FrameSet
from animgraph.workers.media.gif import encode_gif
from animgraph.workers.media.select import select_frames
from animgraph.workers.media.threads import (
    CpuShare,
    available_cores,
    cgroup_cpu_quota,
    threads_per_job,
)


@pytest.fixture(autouse=True)
def _unconfigured() -> Iterator[None]:
    """Each test starts and ends as a plain process: no share decided."""
    threads._share = None
    yield
    threads._share = None


# cores, jobs at once, ANIMGRAPH_WORKER_THREADS -> threads per job
# fmt: off
RULE: list[tuple[float, int, int | None, int]] = [
    (2, 1, None, 2),     # one process on a 2-core worker: both cores
    (2, 2, None, 1),     # --concurrency 2 on 2 cores: one each
    (8, 2, None, 4),
    (8, 3, None, 2),     # whole cores only: 2.67 -> 2
    (2, 4, None, 1),     # more processes than cores: still one
    (1, 1, None, 1),
    (1.5, 1, None, 1),   # a quota of 1.5 cores
    (2.5, 1, None, 2),
    (0.5, 1, None, 1),   # at least one
    (3.0, 1, None, 3),   # 3.0 from 300000/100000: no rounding down to 2
    (8, 8, 2, 2),        # ANIMGRAPH_WORKER_THREADS wins
    (2, 1, 1, 1),
    (2, 0, None, 2),     # no pool size known: one job
]
# fmt: on


@pytest.mark.parametrize(("cores", "jobs", "override", "expected"), RULE)
def test_the_rule(cores: float, jobs: int, override: int | None, expected: int) -> None:
    assert threads_per_job(cores, jobs, override) == expected


def _cgroup(root: Path, path: str, name: str, text: str) -> None:
    folder = root / path.lstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_cgroup_v2_quota_is_the_smallest_up_the_tree(tmp_path: Path) -> None:
    root, proc = tmp_path / "fs", tmp_path / "cgroup"
    proc.write_text("0::/kubepods/pod1/c1\n")
    _cgroup(root, "/kubepods/pod1/c1", "cpu.max", "max 100000\n")  # the container: no limit
    _cgroup(root, "/kubepods/pod1", "cpu.max", "150000 100000\n")  # the pod: 1.5 cores
    _cgroup(root, "/kubepods", "cpu.max", "400000 100000\n")
    assert cgroup_cpu_quota(root, proc) == 1.5


def test_cgroup_v2_in_its_own_namespace(tmp_path: Path) -> None:
    # In a container with a cgroup namespace its cgroup is the root: /sys/fs/cgroup/cpu.max.
    root, proc = tmp_path / "fs", tmp_path / "cgroup"
    proc.write_text("0::/\n")
    _cgroup(root, "/", "cpu.max", "200000 100000\n")
    assert cgroup_cpu_quota(root, proc) == 2.0


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    root, proc = tmp_path / "fs", tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n")
    _cgroup(root, "/cpu/docker/abc", "cpu.cfs_quota_us", "50000\n")
    _cgroup(root, "/cpu/docker/abc", "cpu.cfs_period_us", "100000\n")
    _cgroup(root, "/cpu", "cpu.cfs_quota_us", "-1\n")
    _cgroup(root, "/cpu", "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(root, proc) == 0.5


def test_no_quota(tmp_path: Path) -> None:
    root, proc = tmp_path / "fs", tmp_path / "cgroup"
    proc.write_text("0::/user.slice\n")
    _cgroup(root, "/user.slice", "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(root, proc) is None
    assert cgroup_cpu_quota(tmp_path / "none", tmp_path / "missing") is None


def test_cores_are_the_affinity_capped_by_the_quota(tmp_path: Path) -> None:
    root, proc = tmp_path / "fs", tmp_path / "cgroup"
    proc.write_text("0::/\n")
    affinity = len(os.sched_getaffinity(0))
    assert available_cores(root, proc) == affinity
    _cgroup(root, "/", "cpu.max", f"{50000 * affinity} 100000\n")
    assert available_cores(root, proc) == affinity / 2


def test_configure_decides_for_the_process_and_says_why() -> None:
    cores = available_cores()
    assert threads.current() == CpuShare(threads_per_job(cores, 1), cores, 1)  # not a worker
    share = threads.configure(2)
    assert share == threads.current() == CpuShare(threads_per_job(cores, 2), cores, 2)
    assert threads.decoder_threads() == share.threads
    assert CpuShare(1, 2, 2).describe() == "threads per job: 1 (2 cores / 2 processes)"
    assert CpuShare(3, 8, 4, 3).describe() == (
        "threads per job: 3 (ANIMGRAPH_WORKER_THREADS; 8 cores, 4 processes)"
    )
    assert CpuShare(1, 1.5, 1).describe() == "threads per job: 1 (1.5 cores / 1 process)"


def test_job_threads_take_at_most_what_a_user_can_use() -> None:
    threads.configure(1, 4)
    assert (threads.job_threads(), threads.job_threads(2)) == (4, 2)
    threads.configure(1, 1)
    assert threads.job_threads(2) == 1


@pytest.mark.parametrize("clip", ["frames", "noisy_frames"])
@pytest.mark.parametrize("quality", [30, 75, 100])
def test_gif_bytes_do_not_depend_on_the_threads(
    clip: str, quality: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    frames: FrameSet = request.getfixturevalue(clip)
    selection = select_frames(frames.pts_s, start_s=0.0, end_s=1.0, fps=30)
    files = []
    for count in (1, 2):
        threads.configure(1, count)
        dest = tmp_path / f"{count}.gif"
        encode_gif(frames, selection, dest, quality=quality)
        files.append(dest.read_bytes())
    assert files[0] == files[1]
