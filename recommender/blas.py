"""BLAS on one thread while answering queries: `one_blas_thread()`.

A query's arithmetic is one product of the item factors with a vector: BLAS threads cost more
to wake than they save, and on a busy machine (gunicorn's threads, other processes) they wait
for a core, which made queries several times slower.

OpenBLAS's thread count is one for the whole process, so concurrent queries share one limit:
the first to start sets it, the last to finish restores it. It is set with OpenBLAS's
`openblas_set_num_threads_local`: once the main thread has set the count (threadpoolctl does, in
training), OpenBLAS ignores `openblas_set_num_threads` from any other thread, where requests run.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_running = 0  # queries inside one_blas_thread() now
_setters: list[Callable[[int], int]] | None = None  # one per BLAS library: set, return before
_saved: list[int] = []  # the counts before the first running query set them to 1


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS on one thread; safe to nest and to enter from many threads."""
    global _running, _setters, _saved
    with _lock:
        if _running == 0:
            if _setters is None:  # on first use, when numpy's and scipy's BLAS are loaded
                _setters = [_setter(library) for library in _blas_libraries()]
            _saved = [set_threads(1) for set_threads in _setters]
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                for set_threads, threads in zip(_setters, _saved, strict=True):
                    set_threads(threads)


def _blas_libraries() -> list:
    return ThreadpoolController().select(user_api="blas").lib_controllers


def _setter(library) -> Callable[[int], int]:  # noqa: ANN001 - a threadpoolctl LibController
    """A function that sets the library's thread count and returns the one before."""
    local = getattr(library.dynlib, "openblas_set_num_threads_local", None)  # OpenBLAS 0.3.27+
    if local is not None:
        local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
        return local

    def set_threads(threads: int) -> int:
        before = library.get_num_threads()
        library.set_num_threads(threads)
        return before

    return set_threads
