"""A bounded copy in memory of the latest answers a cache holds, each expiring with its answer.

omdb.py keeps its parsed OMDb answers here: reading and parsing a cached answer costs more than
rendering its card, so a page seen again reads no cache. The copy holds only what the cache
holds (never errors), so the cache stays the source of truth.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime, timezone
from typing import Any


class RecentAnswers:
    """The `size` latest answers by key, least recently used dropped first; thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, tuple[Any, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """(True, answer) when known and unexpired, else (False, None)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return False, None
            answer, expires = item
            if expires is not None and expires <= datetime.now(timezone.utc):
                del self._items[key]
                return False, None
            self._items.move_to_end(key)
            return True, answer

    def put(self, key: Hashable, answer: Any, expires: datetime | None) -> None:
        """Keep `answer` until `expires` (None: as long as there is room)."""
        with self._lock:
            self._items[key] = (answer, expires)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
