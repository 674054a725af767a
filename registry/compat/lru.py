"""A small thread-safe least-recently-used cache: the bound of every parsed-schema cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class LruCache:
    """At most ``size`` entries; the least recently read or written goes first. Values are never None."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
