"""Running one experiment command as a subprocess, safely.

The command runs in its own process group (its own session), so that on a timeout SIGTERM and then
SIGKILL reach every process it started; when the command exits, whatever it left behind in its group
is killed too, and (while the loop is a subreaper, see `reaper`) so is anything that left the group
with setsid, so no orphan outlives the experiment. Output is streamed to log files capped in size:
the head is written as it comes, and the last `tail_bytes` are kept and appended at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autoresearch.run import reaper

# Environment variables that look like credentials are not passed to experiments unless listed.
_SECRET_NAME = re.compile(
    r"(_API_KEY|_APIKEY|_TOKEN|_SECRET|_SECRET_KEY|_PASSWORD|_PASSWD|_CREDENTIALS|_PRIVATE_KEY|_ACCESS_KEY"
    r"|_ACCESS_KEY_ID|_AUTH)$|^(API_KEY|TOKEN|SECRET|PASSWORD|GITHUB_TOKEN|HF_TOKEN|AWS_SESSION_TOKEN)$",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def experiment_env(
    base: Mapping[str, str], *, extra: Mapping[str, str] = {}, allow: Sequence[str] = ()
) -> dict[str, str]:
    """BASE without secret-looking variables (except those in ALLOW), plus EXTRA."""
    allowed = set(allow)
    env = {k: v for k, v in base.items() if k in allowed or not looks_secret(k)}
    env.update(extra)
    return env


@dataclass
class RunResult:
    exit_code: int | None  # None when killed for the timeout
    timed_out: bool
    duration: float
    stdout_path: Path
    stderr_path: Path
    truncated: bool  # some output was dropped to keep the logs under the cap
    error: str | None = None  # the command could not be started at all

    @property
    def succeeded(self) -> bool:
        return self.error is None and not self.timed_out and self.exit_code == 0


class _CappedLog:
    """Copies a stream to a file, keeping the first `cap` bytes and the last `tail` bytes."""

    def __init__(self, stream: IO[bytes], path: Path, cap: int, tail: int) -> None:
        self.stream, self.path, self.cap = stream, path, cap
        self.tail: deque[bytes] = deque()
        self.tail_size, self.tail_cap = 0, tail
        self.dropped = 0
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self) -> None:
        written = 0
        with open(self.path, "wb") as out:
            for chunk in iter(lambda: self.stream.read1(65536), b""):  # type: ignore[attr-defined]
                if written < self.cap:
                    head = chunk[: self.cap - written]
                    out.write(head)
                    out.flush()
                    written += len(head)
                    chunk = chunk[len(head) :]
                if chunk:
                    self.tail.append(chunk)
                    self.tail_size += len(chunk)
                    while self.tail_size - len(self.tail[0]) >= self.tail_cap:
                        dropped = self.tail.popleft()
                        self.tail_size -= len(dropped)
                        self.dropped += len(dropped)
            tail = b"".join(self.tail)
            if len(tail) > self.tail_cap:
                self.dropped += len(tail) - self.tail_cap
                tail = tail[-self.tail_cap :]
            if self.dropped:
                out.write(f"\n[... autoresearch dropped {self.dropped} bytes of output ...]\n".encode())
            out.write(tail)

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def _kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def run_command(
    command: str | Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    stdout_path: Path,
    stderr_path: Path,
    max_log_bytes: int = 10 * 1024**2,
    kill_grace: float = 5.0,
    preexec: list[str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> RunResult:
    """Run COMMAND (a shell string or argv) to completion or timeout, logging its output.

    PREEXEC is a prefix argv (a sandbox wrapper such as `unshare -n`), applied outside the command
    so the candidate cannot change it. ON_START and ON_EXIT receive the process group id, so a
    caller can kill running experiments from another thread (Ctrl-C).
    """
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    if preexec:
        argv = [*preexec, *argv]
    start = time.monotonic()
    try:
        with reaper.LOCK:  # see reaper: a leader is registered before anyone looks for strays
            before = reaper.children()
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            reaper.register(proc.pid)
    except OSError as exc:
        for path in (stdout_path, stderr_path):
            path.write_text("")
        stderr_path.write_text(f"could not start {shlex.join(argv)}: {exc}\n")
        return RunResult(None, False, 0.0, stdout_path, stderr_path, False, error=f"could not start: {exc}")
    assert proc.stdout is not None and proc.stderr is not None
    if on_start is not None:
        on_start(proc.pid)
    tail = min(max_log_bytes, 256 * 1024)
    logs = [
        _CappedLog(proc.stdout, stdout_path, max(max_log_bytes - tail, 0), tail),
        _CappedLog(proc.stderr, stderr_path, max(max_log_bytes - tail, 0), tail),
    ]
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=kill_grace)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
    except BaseException:
        # Ctrl-C or an error in the loop: never leave the experiment running behind us.
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        # Whatever the command left behind in its group (background jobs, daemons it forked)
        # dies with it; this also closes the pipes they held so the log threads finish.
        _kill_group(proc.pid, signal.SIGKILL)
        reaper.unregister(proc.pid)
        # Processes that left the group (setsid) were re-parented to us if the loop is a subreaper.
        reaper.reap_escaped(before)
        if on_exit is not None:
            on_exit(proc.pid)
        for log in logs:
            log.join(timeout=10)
    duration = time.monotonic() - start
    return RunResult(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration=duration,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        truncated=any(log.dropped for log in logs),
    )


def read_tail(path: Path, max_bytes: int = 4000, *, whole_lines: bool = False) -> str:
    """The last MAX_BYTES of a log file, decoded leniently.

    WHOLE_LINES: start at a line, dropping the first one when the cut fell inside it, so a summary never
    begins mid-word.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - max_bytes, 0))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return ""
    if whole_lines and size > max_bytes:
        _, newline, rest = tail.partition("\n")
        if newline and rest.strip():
            return rest
    return tail
