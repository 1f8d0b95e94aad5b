"""One lock per key, kept only while someone holds it or waits for it: work on one key (a
task's estimate, a user's parses) is done one at a time, and keys come and go freely."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Hashable, Iterator


class KeyedLocks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._users: Counter[Hashable] = Counter()

    @contextlib.contextmanager
    def held(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
            self._users[key] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key], self._locks[key]
