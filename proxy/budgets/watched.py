"""A data file kept in memory and reloaded when it changes on disk (checked at most every N s)."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class WatchedFile(Generic[T]):
    """Holds `parse(path)`; `get()` re-parses after the file's mtime or size changed.

    A file that fails to parse after a change keeps the last good value (and logs), so a bad
    edit cannot take budgets down; a missing file yields `parse`'s answer for a missing path.
    """

    def __init__(
        self,
        path: Path,
        parse: Callable[[Path], T],
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._parse = parse
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._value: T = parse(path)  # the first load raises: a broken file at startup is fatal
        self._checked = clock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def get(self) -> T:
        """The current value, re-read if the file changed since the last check."""
        now = self._clock()
        if now - self._checked < self._interval:
            return self._value
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp != self._stamp:
                # Remember the stamp even when parsing fails: retry on the next edit, not every second.
                self._stamp = stamp
                try:
                    self._value = self._parse(self.path)
                    log.info("reloaded %s", self.path)
                except Exception as e:  # keep serving the last good data
                    log.error("not reloading %s: %s", self.path, e)
            return self._value
