"""Killing every descendant of an experiment, including those that escaped its process group.

A candidate can `setsid` (or double-fork into a new session) so that the process-group kill at the
end of a run misses it. While a study runs, autoresearch makes itself a *child subreaper*
(`prctl(PR_SET_CHILD_SUBREAPER)`, Linux): an orphaned descendant is then re-parented to autoresearch
instead of to init, so it shows up as our own child. After each run, `reap_escaped` kills and reaps
every such child that is not one of ours: a direct child that appeared during the run, is not a
registered experiment leader, and lives in another session than ours (our own helpers -- git, a
proposer script -- share our session). This costs a read of /proc per run, no wrapper process.

Where prctl is unavailable (not Linux), only the process-group kill applies.

`sweep` is what every run ends with, before any of its outputs is read: it finds each process of the
run -- its process group, its session, every process whose environment carries the run's token
(`TOKEN_VAR`, inherited through any fork and exec that keeps the environment) and the escaped orphans
re-parented to us -- stops them all with SIGSTOP until a scan finds nothing new (a stopped process
cannot fork, so a chain of forks cannot outrun it), then kills them and scans again until none is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator

PR_SET_CHILD_SUBREAPER = 36
# Set to a fresh token in the environment of every run (see `sweep`); `run_command` sets it.
TOKEN_VAR = "AUTORESEARCH_RUN_TOKEN"
# A run whose processes are still appearing after this many seconds of sweeping is left as it is,
# with a warning: a sweep never hangs the study.
SWEEP_LIMIT = 60.0
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


def new_token() -> str:
    return uuid.uuid4().hex


def _read(path: str, size: int) -> bytes:
    """Up to SIZE bytes of a /proc file (raw os calls: a scan reads one per process, so they must be cheap)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, process group, session, start time in clock ticks after boot) of PID, or None when gone."""
    try:
        fields = _read(f"/proc/{pid}/stat", 1024).rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _carries(pid: int, marker: bytes) -> bool:
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        return marker in data
    except OSError:
        return False
    finally:
        os.close(fd)


def members(leader: int, token: str, before: set[int]) -> set[int]:
    """The live (not zombie) processes of the run LEADER started with TOKEN in its environment.

    BEFORE: our children when the run started (so escaped orphans of this run can be told from ours).
    """
    me, own_session = os.getpid(), os.getsid(0)
    marker = f"{TOKEN_VAR}={token}\0".encode()
    # A run's processes never share our session (its leader starts a new one, and no process can join
    # another's), so a child of ours in our session is one of our helpers (git, a proposer, another
    # slot's checkout), never an escaped orphan: with several workers those start during a run.
    escaped = {pid for pid in children() - before - _leaders if _session(pid) != own_session} if active() else set()
    leader_stat = _stat(leader)  # a zombie until the sweep ends: still readable
    started = leader_stat[3] if leader_stat is not None else 0
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        stat = _stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        _, group, session, start = stat
        if session == own_session and pid not in escaped and group != leader:
            continue  # ours: the loop, its threads' helpers (git, a proposer being started)
        # A process older than the leader cannot descend from it: only newer ones' environments are read.
        descends = start >= started and _carries(pid, marker)
        if group == leader or session == leader or pid in escaped or descends:
            found.add(pid)
    return found


def _reap_ours() -> None:
    """Collect killed children of ours (escaped orphans) so that they do not linger as zombies."""
    for pid in children() - _leaders:
        with contextlib.suppress(ChildProcessError, OSError):
            stat = _stat(pid)
            if stat is not None and stat[0] in ("Z", "X"):
                os.waitpid(pid, os.WNOHANG)


def sweep(leader: int, token: str, before: set[int], limit: float = SWEEP_LIMIT) -> int:
    """Stop, then kill, every process of the run (see `members`) until none is left; the number killed.

    Call it after LEADER exited and before reaping it: its pid (the run's group and session id) cannot
    be reused by an unrelated process while it is a zombie.
    """
    end = time.monotonic() + limit
    killed: set[int] = set()
    while True:
        stopped: set[int] = set()
        while True:  # freeze: a stopped process can neither fork nor exit, so the scans converge
            with LOCK:
                found = members(leader, token, before)
            new = found - stopped
            for pid in new:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGSTOP)
            stopped |= new
            if not new or time.monotonic() > end:
                break
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed |= stopped
        time.sleep(0.001 if stopped else 0)
        _reap_ours()
        if not stopped:
            return len(killed)
        if time.monotonic() > end:
            warnings.warn(f"processes of run {leader} were still appearing after {limit:g}s of killing", stacklevel=2)
            return len(killed)
