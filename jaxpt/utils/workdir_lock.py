"""One run per work directory: a lock file naming its holder (pid, host, start time, command).

    with WorkdirLock(workdir, "an SFT run"):
        ...   # a second run on `workdir` fails at once with WorkdirBusy naming this one

Two runs on one directory interleave checkpoints from different runs and duplicate every metrics row, so the
second one must not start. The lock is an advisory `flock` on <workdir>/.jaxpt.lock, taken before anything
is written there: the kernel drops it when the holder exits in any way (kill -9 included), so a lock left by
a dead process is never mistaken for a live one. The file keeps the last holder's details; taking over a lock
whose holder has gone says so in a warning (it was interrupted: resume is what it needs). The descriptor is
not inherited by child processes (close-on-exec, and the verifier's workers are spawned, not forked), so a
lingering child never keeps a lock for a dead run. Network file systems must support flock (NFSv4 and Lustre
do); only process 0 of a multi-host run takes the lock.
"""
import datetime
import fcntl
import json
import logging
import os
import pathlib
import socket
import sys
import time
from typing import Optional

LOCK_NAME = ".jaxpt.lock"


class WorkdirBusy(RuntimeError):
    """Another live run holds the work directory; the message names it."""


def _describe(info: dict) -> str:
    if not info:
        return "an unknown process (its lock file is empty)"
    return (f"pid {info.get('pid')} on host {info.get('host')}, started {info.get('started')}"
            + (f" ({info['command']})" if info.get("command") else ""))


class WorkdirLock:
    def __init__(self, directory, what: str = "a run"):
        self.directory = pathlib.Path(directory).absolute()
        self.path = self.directory / LOCK_NAME
        self.what = what
        self._fd: Optional[int] = None

    def _read(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 1 << 16)
        try:
            return json.loads(raw.decode()) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return {}

    def acquire(self) -> "WorkdirLock":
        if self._fd is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder writes its details right after locking: give it a moment to do so.
            info = {}
            for _ in range(20):
                info = self._read(fd)
                if info:
                    break
                time.sleep(0.05)
            os.close(fd)
            raise WorkdirBusy(f"{self.directory} is in use by {info.get('what', 'another run')}: "
                              f"{_describe(info)}. Wait for it to end, stop it, or use another work directory "
                              f"(the lock is {self.path})") from None
        previous = self._read(fd)
        if previous:
            logging.warning("%s: taking over the lock of %s that ended without releasing it (%s): it was "
                            "interrupted", self.directory, previous.get("what", "a run"), _describe(previous))
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)[:500]}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Ends the hold: the file is emptied first (a clean end leaves no holder to report), then unlocked."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
