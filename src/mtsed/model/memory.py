"""Keep freed memory for the next training step instead of handing it back to the system.

A training step of the CRNN allocates and frees tensors of tens of MB (the first conv block's
output alone is 42 MB at batch 8). glibc serves blocks over 32 MB with fresh ``mmap`` pages and
unmaps them on free, so every such tensor is page-faulted in again, 4 KB at a time, and the
step slows by what that costs (measured in benchmarks/RESULTS.md). Inside
:func:`reuse_freed_memory` glibc takes large blocks from its heap and keeps freed ones, so the
next step reuses warm pages. The process holds its peak memory meanwhile; on leaving, both
settings are given glibc's default values again and the spare memory is released. glibc's
dynamic mmap threshold stays off for the rest of the process, as after any ``mallopt`` of these
settings, so large blocks then come from ``mmap`` at the fixed default threshold. Elsewhere than
glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameters and glibc's defaults (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEEP = 2**31 - 1  # trim threshold: free memory below this at the heap's top stays with the process


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Within the block, large allocations come from the heap and freed memory is kept;
    yields whether the allocator could be told (glibc)."""
    libc = _libc()
    if libc is None:
        yield False
        return
    told = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, KEEP) == 1
    try:
        yield told
    finally:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
