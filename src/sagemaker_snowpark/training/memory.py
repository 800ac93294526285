"""The process's memory, as the container programs keep it bounded and report it.

The Snowflake connector downloads result chunks in threads of its own; glibc would give each
thread a malloc arena, and each arena keeps what it freed, so peak memory would grow with the
number of chunks instead of the batch. The programs keep glibc to a few arenas, hand freed memory
back before training, and log their peak resident memory.
"""

from __future__ import annotations

import ctypes
from pathlib import Path


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep glibc to a few malloc arenas, as MALLOC_ARENA_MAX=2 would.

    The threads that download result chunks would each get an arena of their own (up to 8 per
    core), and each arena keeps the memory it freed: peak memory then grows with the number of
    chunks, not with the batch. Must run before those threads start; a no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def release_freed_memory() -> None:
    """Hand the memory the fetch freed back to the system before training (glibc keeps it)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory_mb() -> float | None:
    """This process's peak resident memory (VmHWM), or None where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
