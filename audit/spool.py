"""The durable local spool: append-only segment files, written before an exchange completes.

A record is one line: a kind byte, the CRC32 of the payload in hex, a space, the payload (a
JSON object, which never contains a raw newline) and a newline. `append` is one `os.write` to an
O_APPEND file descriptor, so once it returns a process crash loses nothing; a background thread
fsyncs every `fsync_interval_ms` (group commit), which bounds what a power loss can cost.

The reader side hands out batches by byte range and keeps a cursor file. Before a batch is shipped
its range is written down as pending, so after a crash the very same range is shipped again under
the very same insert token, and the store's deduplication turns the retry into a no-op.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"
CURSOR_FILE = "cursor.json"
LOCK_FILE = "LOCK"
READ_CHUNK = 4 << 20


class SpoolUnavailable(RuntimeError):
    """The spool is full or cannot be written; with fail_closed the exchange must not proceed."""


@dataclass(slots=True)
class Batch:
    """A contiguous byte range of one segment and the records in it, grouped by kind."""

    segment: str
    start: int
    end: int
    records: dict[bytes, list[bytes]] = field(default_factory=dict)
    count: int = 0
    corrupt: int = 0

    @property
    def token(self) -> str:
        """Stable id of this range: the insert deduplication token is derived from it."""
        return f"{self.segment.removesuffix(SEGMENT_SUFFIX)}:{self.start}:{self.end}"


def encode_record(kind: bytes, payload: bytes) -> bytes:
    return b"%s%08x %s\n" % (kind, zlib.crc32(payload), payload)


def decode_line(line: bytes) -> tuple[bytes, bytes] | None:
    """(kind, payload) of one line without its newline, or None when the line is damaged."""
    if len(line) < 10 or line[9:10] != b" ":
        return None
    payload = line[10:]
    try:
        crc = int(line[1:9], 16)
    except ValueError:
        return None
    if zlib.crc32(payload) != crc:
        return None
    return line[0:1], payload


class Spool:
    """Append-only segments in one directory, owned by one process (flock on LOCK)."""

    def __init__(self, directory: Path, max_bytes: int, fsync_interval_ms: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_max_bytes = max(64 << 10, min(64 << 20, max_bytes // 8))
        self.fsync_interval = fsync_interval_ms / 1000.0
        self._lock = threading.Lock()
        self._lock_fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self._lock_fd)
            raise RuntimeError(f"spool {self.dir} is owned by another process") from e
        self._sizes: dict[str, int] = {p.name: p.stat().st_size for p in self._segment_paths()}
        self._fd = -1
        self._active = ""
        self._dirty = False
        self._broken = False
        self._retired: list[int] = []  # fds of rotated segments awaiting fsync + close
        self.written_events = 0
        self.dropped_events = 0
        self.appended = threading.Event()  # set on every append; the shipper waits on it
        self._open_new_segment()
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="audit-spool-fsync", daemon=True)
        self._syncer.start()

    # -- writer side -----------------------------------------------------------------------
    def _segment_paths(self) -> list[Path]:
        return sorted(self.dir.glob("*" + SEGMENT_SUFFIX))

    def segments(self) -> list[str]:
        """Names of the segments on disk, oldest first."""
        with self._lock:
            return sorted(self._sizes)

    @property
    def active(self) -> str:
        return self._active

    def _open_new_segment(self) -> None:
        # Names sort by creation time and are never reused, so insert tokens never collide.
        stamp = time.time_ns()
        while True:
            name = f"{stamp:020d}{SEGMENT_SUFFIX}"
            if name not in self._sizes and name > (self._active or ""):
                break
            stamp += 1
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the new name survives a power loss
        finally:
            os.close(dfd)
        if self._fd >= 0:
            self._retired.append(self._fd)
        self._fd = fd
        self._active = name
        self._sizes[name] = 0
        self._broken = False

    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def append(self, kind: bytes, payload: bytes) -> None:
        """Write one record durably against a process crash; raise SpoolUnavailable if it cannot."""
        line = encode_record(kind, payload)
        with self._lock:
            total = sum(self._sizes.values())
            if total + len(line) > self.max_bytes:
                raise SpoolUnavailable(f"audit spool full ({total} of {self.max_bytes} bytes)")
            try:
                if self._broken or self._sizes[self._active] + len(line) > self.segment_max_bytes:
                    self._open_new_segment()
                n = os.write(self._fd, line)
                if n != len(line):
                    # A short write leaves a torn line; the reader skips it by CRC. Start afresh.
                    self._broken = True
                    self._sizes[self._active] += n
                    raise SpoolUnavailable("audit spool short write")
            except OSError as e:
                self._broken = True
                raise SpoolUnavailable(f"audit spool not writable: {errno.errorcode.get(e.errno or 0, str(e.errno))}") from None
            self._sizes[self._active] += n
            self._dirty = True
            self.written_events += 1
        self.appended.set()

    def sync(self) -> None:
        """fsync now: the active segment and any segment rotated since the last sync."""
        with self._lock:
            fd = self._fd
            retired, self._retired = self._retired, []
            dirty, self._dirty = self._dirty, False
        for r in retired:
            try:
                os.fsync(r)
            except OSError:
                pass
            os.close(r)
        if dirty and fd >= 0:
            try:
                os.fsync(fd)
            except OSError as e:
                log.warning("audit spool fsync failed: %s", errno.errorcode.get(e.errno or 0, str(e.errno)))

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval):
            self.sync()

    # -- reader side -----------------------------------------------------------------------
    def read_range(self, segment: str, start: int, end: int | None, max_events: int) -> Batch:
        """Records of `segment` from byte `start`: exactly up to `end`, else up to max_events lines.

        Only complete lines count; a damaged line (bad CRC, torn by a power loss) is skipped
        and counted in `corrupt`, so it can never block the lines after it.
        """
        batch = Batch(segment, start, start)
        try:
            f = open(self.dir / segment, "rb")
        except FileNotFoundError:
            return batch
        with f:
            f.seek(start)
            consumed = 0
            tail = b""
            full = False
            while not full:
                want = READ_CHUNK if end is None else min(READ_CHUNK, end - start - consumed)
                if want <= 0:
                    break
                chunk = f.read(want)
                if not chunk:
                    break
                consumed += len(chunk)
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()  # incomplete remainder (b"" after a final newline)
                for line in lines:
                    batch.end += len(line) + 1
                    rec = decode_line(line)
                    if rec is None:
                        batch.corrupt += 1
                    else:
                        batch.records.setdefault(rec[0], []).append(rec[1])
                        batch.count += 1
                    if end is None and batch.count + batch.corrupt >= max_events:
                        full = True
                        break
        return batch

    def segment_size(self, segment: str) -> int:
        with self._lock:
            return self._sizes.get(segment, 0)

    def remove_segment(self, segment: str) -> None:
        """Delete a fully shipped segment (never the active one)."""
        with self._lock:
            if segment == self._active:
                return
            self._sizes.pop(segment, None)
        try:
            (self.dir / segment).unlink()
        except FileNotFoundError:
            pass

    def count_records(self, segment: str, start: int) -> int:
        """Complete lines in a segment from `start` (for the pending-events metric after a restart)."""
        n = 0
        try:
            with open(self.dir / segment, "rb") as f:
                f.seek(start)
                while chunk := f.read(READ_CHUNK):
                    n += chunk.count(b"\n")
        except FileNotFoundError:
            pass
        return n

    def close(self) -> None:
        """Stop the fsync thread, fsync and close everything, release the directory lock."""
        self._stop.set()
        self._syncer.join(timeout=5)
        with self._lock:
            self._dirty = True
        self.sync()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)


@dataclass(slots=True)
class Cursor:
    """How far shipping got: segment + byte offset, and the range in flight (if any)."""

    segment: str = ""
    offset: int = 0
    pending_end: int | None = None

    @classmethod
    def load(cls, directory: Path) -> Cursor:
        try:
            d = json.loads((directory / CURSOR_FILE).read_text())
            return cls(str(d.get("segment", "")), int(d.get("offset", 0)), d.get("pending_end"))
        except (FileNotFoundError, ValueError, TypeError):
            return cls()

    def save(self, directory: Path) -> None:
        """Atomic replace; fsynced so a power loss cannot move the cursor backwards past a token."""
        tmp = directory / (CURSOR_FILE + ".tmp")
        data = json.dumps({"segment": self.segment, "offset": self.offset, "pending_end": self.pending_end})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, directory / CURSOR_FILE)
