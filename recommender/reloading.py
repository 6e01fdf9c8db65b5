"""A newer saved model, served without a restart: `ModelWatch`.

`flask train` may run while the app serves; it replaces the model file atomically (a new file
moved into place). Each process looks at the file at most every `interval` seconds, one stat on
the request path and never a read, and when it is no longer the file the process loaded, loads
the new one on a background thread, so no request waits for it. Until the new model is in, and
if it cannot be used, the current one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

FileSignature = tuple[int, int, int] | None  # (mtime in ns, size, inode); None: no file


def file_signature(path: str | Path) -> FileSignature:
    """What changes when a file is replaced or rewritten; None when there is no file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class ModelWatch:
    """Calls `reload` (on a thread of its own) once the model file is not the one loaded."""

    def __init__(
        self,
        path: str | Path,
        interval: float,
        reload: Callable[[], None],
        *,
        seen: FileSignature,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`seen`: the file's signature as it was loaded (taken before reading it, so a file
        replaced during the load is noticed); `interval` 0 turns the watch off."""
        self._path = Path(path)
        self._interval = interval
        self._reload = reload
        self._seen = seen
        self._clock = clock
        self._next_look = clock() + interval
        self._loading: threading.Thread | None = None
        self._lock = threading.Lock()

    def poll(self) -> threading.Thread | None:
        """On every request: a clock read, and at most every `interval` seconds one stat.

        Returns the thread loading a newer model when this call started one.
        """
        if self._interval <= 0 or self._clock() < self._next_look:
            return None
        with self._lock:
            now = self._clock()
            if now < self._next_look or self._loading is not None:
                return None
            self._next_look = now + self._interval
            current = file_signature(self._path)
            if current is None or current == self._seen:
                return None  # unchanged, or removed: keep serving what is loaded
            self._seen = current  # a file that cannot be used is not tried again until replaced
            self._loading = threading.Thread(target=self._load, name="model-reload", daemon=True)
            self._loading.start()
            return self._loading

    def _load(self) -> None:
        try:
            self._reload()
        except Exception:  # the current model keeps serving; the log says why
            logger.exception("Could not switch to the new model in %s", self._path)
        finally:
            with self._lock:
                self._loading = None
