"""An open-addressed table in an anonymous shared mapping, for the processes forked from the one
that made it, with a lock that holds across them: the rate limits' counters and the budgets'
ledger are both one of these. What a slot holds is the subclass's; this is the mapping, the
lock (a thread lock, then a flock on a file every process opens for itself) and key hashing."""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import tempfile
import threading
import weakref


class SharedTable:
    def __init__(self, capacity: int, header: int, slot_size: int, lock_prefix: str,
                 lock_dir: str | None = None, hash_cache: int = 100_000) -> None:
        size = 16
        while size < capacity:
            size <<= 1
        self._capacity = size
        self._mask = size - 1
        self._max_used = size * 3 // 4  # linear probing stays short below this load
        self._mm = mmap.mmap(-1, header + size * slot_size)
        self._owner = os.getpid()
        fd, self._lock_path = tempfile.mkstemp(prefix=lock_prefix, suffix=".lock", dir=lock_dir)
        self._base_fd = fd  # inherited by the children, who reopen it (a flock is per open file)
        if os.path.isdir("/proc/self/fd"):  # Linux: reopen through /proc, so no file need stay behind
            os.unlink(self._lock_path)
            self._reopen = f"/proc/self/fd/{fd}"
        else:
            self._reopen = self._lock_path
        self._fd = fd
        self._tlock = threading.Lock()
        self._hashes: dict[str, int] = {}
        self._hash_cache = hash_cache
        ref = weakref.ref(self)

        def after_fork() -> None:
            table = ref()
            if table is not None:
                table._forked()

        os.register_at_fork(after_in_child=after_fork)

    def _forked(self) -> None:
        # The parent's thread lock may have been held by one of its threads at fork time, and its
        # fd shares the parent's open file description: take fresh ones.
        self._tlock = threading.Lock()
        if self._fd != self._base_fd and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def _enter(self) -> int:
        self._tlock.acquire()
        try:
            fd = self._fd
            if fd < 0:
                fd = self._fd = os.open(self._reopen, os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._tlock.release()
            raise
        return fd

    def _leave(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._tlock.release()

    def close(self) -> None:
        """Release the mapping; the creating process also removes its lock file."""
        self._mm.close()
        if os.getpid() == self._owner:
            os.close(self._base_fd)
            if self._reopen == self._lock_path and os.path.exists(self._lock_path):
                os.unlink(self._lock_path)

    def _hash(self, key: str) -> int:
        h = self._hashes.get(key)
        if h is None:
            h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1
            if len(self._hashes) >= self._hash_cache:
                self._hashes.clear()
            self._hashes[key] = h
        return h
