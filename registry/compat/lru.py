"""A small thread-safe least-recently-used cache (the bound of every parsed-schema cache), and the
table of shared field keys."""

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


SHARED_KEYS = 20_000  # distinct field keys kept by ``shared`` (they hold texts alive); then it starts over
_shared: dict[Hashable, Hashable] = {}


def shared(key: Hashable) -> Hashable:
    """One object for every equal ``key`` (like ``sys.intern`` for any hashable): the field keys
    of many versions of a schema are mostly equal, and sets of shared keys meet by identity instead
    of comparing their contents, which is most of comparing a version with a hundred earlier ones."""
    found = _shared.get(key)
    if found is None:
        if len(_shared) >= SHARED_KEYS:
            _shared.clear()  # keys shared before stay valid; only new ones stop being shared with them
        found = _shared.setdefault(key, key)
    return found
