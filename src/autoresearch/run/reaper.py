"""Killing every descendant of an experiment, including those that escaped its process group.

A candidate can `setsid` (or double-fork into a new session) so that the process-group kill at the
end of a run misses it. While a study runs, autoresearch makes itself a *child subreaper*
(`prctl(PR_SET_CHILD_SUBREAPER)`, Linux): an orphaned descendant is then re-parented to autoresearch
instead of to init, so it shows up as our own child. After each run, `reap_escaped` kills and reaps
every such child that is not one of ours: a direct child that appeared during the run, is not a
registered experiment leader, and lives in another session than ours (our own helpers -- git, a
proposer script -- share our session). This costs a read of /proc per run, no wrapper process.

Where prctl is unavailable (not Linux), only the process-group kill applies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

PR_SET_CHILD_SUBREAPER = 36
# Serialises "start an experiment leader" with "kill unknown children", so a leader between its fork
# and its registration is never taken for an escaped orphan of another experiment.
LOCK = threading.RLock()
_leaders: set[int] = set()  # pids of experiment commands we started and still wait on
_enabled = 0


def _prctl_subreaper(on: bool) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def subreaper() -> Iterator[bool]:
    """Make this process a child subreaper for the duration (nested uses are fine)."""
    global _enabled
    with LOCK:
        ok = _prctl_subreaper(True) if _enabled == 0 else True
        _enabled += 1
    try:
        yield ok
    finally:
        with LOCK:
            _enabled -= 1
            if _enabled == 0:
                _prctl_subreaper(False)


def active() -> bool:
    return _enabled > 0


def register(pid: int) -> None:
    _leaders.add(pid)


def unregister(pid: int) -> None:
    _leaders.discard(pid)


def children() -> set[int]:
    """Our direct children (every thread's), from /proc; empty where /proc lacks `children`."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children") as handle:
                found.update(int(pid) for pid in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def _session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[3])  # after "(comm)": state ppid pgrp session ...
    except (OSError, IndexError, ValueError):
        return None


def reap_escaped(before: set[int], deadline: float = 2.0) -> list[int]:
    """Kill and reap children that escaped a finished run; BEFORE = our children when it started.

    Repeats until none are left (killing a parent re-parents its children to us) or DEADLINE seconds.
    Returns the pids killed.
    """
    if not active():
        return []
    own_session = os.getsid(0)
    killed: list[int] = []
    end = time.monotonic() + deadline
    while True:
        with LOCK:
            strays = [
                pid
                for pid in children() - before - _leaders
                if (session := _session(pid)) is not None and session != own_session
            ]
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        killed += strays
        if not strays or time.monotonic() > end:
            return killed
