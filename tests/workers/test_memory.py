"""The worker gives freed heap pages back to the system (issue 8: no memory growth in the soak)."""

from __future__ import annotations

import pytest

from workers import memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="malloc_trim is glibc's")


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_release_returns_pages_a_fragmented_heap_keeps() -> None:
    """Keeping every 50th block pins the heap's top, so free() alone cannot shrink it; malloc_trim can."""
    blocks = [bytearray(4000) for _ in range(40_000)]  # ≈ 160 MB from the brk heap (below the mmap threshold)
    for b in blocks:
        b[::512] = b"x" * len(b[::512])  # touch every page
    kept = blocks[::50]
    del blocks
    before = _rss_kb()
    assert memory.release(force=True)
    after = _rss_kb()
    assert before - after > 50_000, (before, after)  # over 50 MB back out of ≈ 157 freed
    assert len(kept) == 800


def test_release_is_rate_limited_unless_forced() -> None:
    memory.release(force=True)
    assert memory.release() is False
    assert memory.release(force=True) is True
