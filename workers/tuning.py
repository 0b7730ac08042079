"""Process tuning of a worker: one BLAS thread, two glibc malloc arenas, and the heap a finished
task freed given back to the system (the signal connections are in ``tasks``)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from functools import cache

__all__ = ["MALLOC_ARENAS", "limit_blas_threads", "limit_malloc_arenas", "return_freed_memory"]

_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
# glibc gives each thread that allocates at once an arena of its own, up to 8 a core, and never
# gives an arena's free pages back while it lives: after one 1280x720 decode (FFmpeg's frame
# threads) a pool process kept 16 MB more for good, and every later job's peak started from
# there (bench: a 320 px GIF job 124 MB after a cockatoo.mp4 job, 109 MB with two arenas).
# Two arenas, unless MALLOC_ARENA_MAX says otherwise.
MALLOC_ARENAS = 2


def limit_blas_threads() -> None:
    """One OpenBLAS thread, unless the deployment sets it; effective only before numpy is first
    imported, so the package's ``__init__`` calls it (Celery imports the package first).

    The media code calls BLAS only for small products (a 3-vector per pixel in
    temporal.texture, k-means over a few thousand colours), where OpenBLAS's thread pool gains
    nothing, and after each call its threads spin on the other cores for a while: 13 % of the
    CPU time of a GIF encode (perf), taken from FFmpeg's decode threads or the other pool
    processes.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def limit_malloc_arenas() -> None:
    """In the worker's main process, before the pool forks (its processes inherit the limit);
    producers that import the workers' modules keep glibc's default."""
    mallopt = _glibc("mallopt")
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def return_freed_memory() -> None:
    """Give the heap a finished task freed back to the system: glibc keeps it, so without this
    a pool process stays at the footprint of its largest past step (frame buffers of a 1280x720
    decode, an encoder's tables) and every later step's peak starts from there."""
    malloc_trim = _glibc("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)


@cache
def _glibc(name: str) -> Callable[..., int] | None:
    """A glibc function, or None where the C library has none (musl, macOS)."""
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    return function
