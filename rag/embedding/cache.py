"""A small thread-safe LRU for query vectors: a repeated question costs no model call."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class VectorLRU:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, key: str, vector: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        vector.setflags(write=False)  # shared between callers: nobody may modify it in place
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
