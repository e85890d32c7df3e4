"""Keep a long-running worker's resident memory flat.

glibc's allocator keeps the pages a large pass touched, and every thread that
allocates gets an arena of its own: in the 25-minute soak (docs/performance.md,
"Soak", run 5) workers whose care and periodic passes loaded tens of MB
climbed from 107 to 133 MB. Two remedies, both no-ops off glibc:

* ``limit_arenas()`` at start: at most two malloc arenas (the main thread and
  the periodic thread otherwise fragment separate ones);
* ``release()`` after each large unit of work: ``malloc_trim(0)`` gives the
  free pages back to the system.

Whatever remains (fragmentation that no trim undoes) is bounded by recycling, as
gunicorn's ``max_requests`` and Celery's ``worker_max_memory_per_child`` do: a
worker over ``LOYALTY_WORKER_MAX_MEMORY_MB`` finishes its job and starts afresh
(``workers.worker``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time

M_ARENA_MAX = -8  # glibc's mallopt parameter number
MIN_SECONDS_BETWEEN_TRIMS = 2.0

_last_trim = 0.0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``malloc_trim``), else None."""
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None


def rss_mb() -> float:
    """This process's resident memory now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas; call before the process starts its threads."""
    lib = _glibc()
    return bool(lib is not None and lib.mallopt(M_ARENA_MAX, arenas))


def release(*, force: bool = False) -> bool:
    """Return free heap pages to the system (at most every couple of seconds unless ``force``).

    True when the trim ran (whether or not there was anything to give back).
    """
    global _last_trim
    lib = _glibc()
    now = time.monotonic()
    if lib is None or (not force and now - _last_trim < MIN_SECONDS_BETWEEN_TRIMS):
        return False
    _last_trim = now
    lib.malloc_trim(0)
    return True
