"""Running one experiment command as a subprocess, safely.

The command runs in its own process group (its own session), so that on a timeout SIGTERM and then
SIGKILL reach every process it started; when the command exits, whatever it left behind is killed
before the call returns, so before any of its output is read: its group, then every other process of
the run (`reaper.sweep`: its session, the run's token in the environment, orphans re-parented to the
subreaper), so no process outlives the experiment. Output is streamed to log files capped in size:
the head is written as it comes, and the last `tail_bytes` are kept and appended at the end.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from autoresearch.core import safeio
from autoresearch.execute import reaper

WATCH_INTERVAL = 0.25  # seconds between a watcher's looks at a remote job (a log on a shared filesystem)
# Seconds between a watcher's looks at a local run (run_command's WATCH): each look reads only the new
# bytes of a local log, so it is cheap; a longer wait runs a pruned run on for several of its steps.
LOCAL_WATCH_INTERVAL = 0.05

# What every candidate-influenced process (experiment, guard, holdout, scorer, proposer) receives from
# autoresearch's own environment: an allowlist, so that a secret under any name (SECRET_KEY, PGPASSWORD,
# DATABASE_URL, AWS_KEY_2 ...) stays out unless the spec passes it with `run.pass_env`.
DEFAULT_ENV = frozenset(
    {
        # the shell and the user
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
        "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR",
        # Python and its environments
        "PYTHONPATH", "PYTHONHASHSEED", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
        "PYTHONUTF8", "PYTHONWARNINGS", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH",
        # devices and threads
        "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
        "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "OMP_NUM_THREADS",
        "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TOKENIZERS_PARALLELISM",
        # caches of common libraries (paths, not credentials)
        "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_HOME", "MPLBACKEND",
    }
)  # fmt: skip
DEFAULT_ENV_PREFIXES = ("LC_",)


def passes_by_default(name: str) -> bool:
    return name in DEFAULT_ENV or name.startswith(DEFAULT_ENV_PREFIXES)


def experiment_env(
    base: Mapping[str, str], *, extra: Mapping[str, str] = {}, allow: Sequence[str] = ()
) -> dict[str, str]:
    """The allowlisted part of BASE (DEFAULT_ENV, LC_*, and the names in ALLOW), plus EXTRA."""
    allowed = set(allow)
    env = {k: v for k, v in base.items() if k in allowed or passes_by_default(k)}
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
    sandbox_cause: str = ""  # how the sandbox likely made it fail, with the spec line that allows it (diagnose)
    stdout_cut: int = 0  # bytes of stdout dropped by the cap (where metric lines are read)
    stopped: bool = False  # stopped by the caller's WATCH (a pruned run), as a timeout stops one

    @property
    def succeeded(self) -> bool:
        return self.error is None and not self.timed_out and not self.stopped and self.exit_code == 0


class _CappedLog:
    """Copies a stream to a file, keeping the first `cap` bytes and the last `tail` bytes."""

    def __init__(self, stream: IO[bytes], fd: int, cap: int, tail: int) -> None:
        self.stream, self.fd, self.cap = stream, fd, cap
        self.tail: deque[bytes] = deque()
        self.tail_size, self.tail_cap = 0, tail
        self.dropped = 0
        self.error: OSError | None = None  # a failed write (a full disk): the stream is still drained
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self) -> None:
        try:
            self._copy_capped()
        except OSError as exc:
            self.error = exc
            for _ in iter(lambda: self.stream.read1(65536), b""):  # type: ignore[attr-defined]
                pass  # never block the command on a pipe nobody reads

    def _copy_capped(self) -> None:
        written = 0
        with os.fdopen(self.fd, "wb") as out:
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
    anchor: Path | None = None,
    watch: Callable[[], bool] | None = None,
) -> RunResult:
    """Run COMMAND (a shell string or argv) to completion or timeout, logging its output.

    PREEXEC is a prefix argv (a sandbox wrapper such as `unshare -n`), applied outside the command
    so the candidate cannot change it. ON_START and ON_EXIT receive the process group id, so a
    caller can kill running experiments from another thread (Ctrl-C). The logs are opened here, below
    ANCHOR (default: their folder) without following symlinks, before the command starts: the command
    only ever holds pipes, never a path autoresearch will write. WATCH, called every LOCAL_WATCH_INTERVAL
    seconds while the command runs (it may read the growing stdout log), returns True to stop the run:
    it is stopped as a timeout stops it, its whole process tree, and `stopped` is set.
    """
    anchor = anchor or stdout_path.parent
    out_fd = safeio.open_new(stdout_path, anchor)
    err_fd = safeio.open_new(stderr_path, anchor)
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    if preexec:
        argv = [*preexec, *argv]
    token = reaper.new_token()
    start = time.monotonic()
    try:
        with reaper.LOCK:  # see reaper: a leader is registered before anyone looks for strays
            before = reaper.children()
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**env, reaper.TOKEN_VAR: token},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            reaper.register(proc.pid)
    except OSError as exc:
        os.close(out_fd)
        with os.fdopen(err_fd, "w") as err:
            err.write(f"could not start {shlex.join(argv)}: {exc}\n")
        return RunResult(None, False, 0.0, stdout_path, stderr_path, False, error=f"could not start: {exc}")
    assert proc.stdout is not None and proc.stderr is not None
    if on_start is not None:
        on_start(proc.pid)
    tail = min(max_log_bytes, 256 * 1024)
    logs = [
        _CappedLog(proc.stdout, out_fd, max(max_log_bytes - tail, 0), tail),
        _CappedLog(proc.stderr, err_fd, max(max_log_bytes - tail, 0), tail),
    ]
    timed_out = stopped = False
    try:
        with _contained(proc, before, token):
            ended = _ended(proc, timeout, watch)
            if ended != "exited":
                timed_out, stopped = ended == "timeout", ended == "stopped"
                _kill_group(proc.pid, signal.SIGTERM)
                if not _exited(proc, kill_grace):
                    _kill_group(proc.pid, signal.SIGKILL)
    finally:
        if on_exit is not None:
            on_exit(proc.pid)
        for log in logs:
            log.join(timeout=10)
    for log, path in zip(logs, (stdout_path, stderr_path), strict=True):
        if log.error is not None:  # the log is incomplete: nothing can be read from this run (a full disk)
            log.error.filename = log.error.filename or str(path)
            raise log.error
    duration = time.monotonic() - start
    return RunResult(
        exit_code=None if timed_out or stopped else proc.returncode,
        timed_out=timed_out,
        stopped=stopped,
        duration=duration,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        truncated=any(log.dropped for log in logs),
        stdout_cut=logs[0].dropped,
    )


def _ended(
    proc: subprocess.Popen[Any], timeout: float | None, watch: Callable[[], bool] | None
) -> Literal["exited", "timeout", "stopped"]:
    """How the run ended: it exited, ran past TIMEOUT, or WATCH asked to stop it."""
    if watch is None:
        return "exited" if _exited(proc, timeout) else "timeout"
    done = _exit_event(proc)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return "timeout"
        if done.wait(LOCAL_WATCH_INTERVAL if left is None else min(LOCAL_WATCH_INTERVAL, left)):
            return "exited"
        if watch():
            return "stopped"


def _exited(proc: subprocess.Popen[Any], timeout: float | None) -> bool:
    """Wait up to TIMEOUT seconds for PROC to exit, without reaping it (see `_contained`): a blocking
    waitid in a helper thread, so the exit is seen at once (a polling loop would add milliseconds)."""
    return _exit_event(proc).wait(timeout)


def _exit_event(proc: subprocess.Popen[Any]) -> threading.Event:
    """An event set when PROC exits (not reaped), by a helper thread blocked in waitid."""
    done = threading.Event()

    def wait() -> None:
        with contextlib.suppress(ChildProcessError):  # already reaped
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    return done


@contextlib.contextmanager
def _contained(proc: subprocess.Popen[Any], before: set[int], token: str) -> Iterator[None]:
    """Nothing PROC started outlives the block, and all of it is gone before it ends, so before any
    output of the run is read: its group is killed, then `reaper.sweep` stops and kills every other
    process of the run (left the group or the session, double-forked, a chain of forks) until none is
    left, which also closes the pipes they held. PROC is reaped only then: while it is a zombie its pid,
    the run's group and session id, cannot be given to an unrelated process."""
    try:
        yield
    finally:
        _kill_group(proc.pid, signal.SIGKILL)
        reaper.sweep(proc.pid, token, before)
        proc.wait()
        reaper.unregister(proc.pid)


def read_tail(path: Path, max_bytes: int = 4000, *, whole_lines: bool = False) -> str:
    """The last MAX_BYTES of a log file, decoded leniently (a symlink there reads as empty).

    WHOLE_LINES: start at a line, dropping the first one when the cut fell inside it, so a summary never
    begins mid-word.
    """
    try:
        with os.fdopen(safeio.open_read(path, path.parent), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - max_bytes, 0))
            tail = handle.read().decode(errors="replace")
    except (OSError, safeio.UnsafePath):
        return ""
    if whole_lines and size > max_bytes:
        _, newline, rest = tail.partition("\n")
        if newline and rest.strip():
            return rest
    return tail


# The most a proposer (script or agent) may print on stdout or stderr by default (the loop passes
# run.max_log_size): a proposal, even of whole files, is
# far smaller; more is read no further (a 3 GB answer must not exhaust the loop's memory).
MAX_PIPED_BYTES = 10 * 1024**2


@dataclass
class Piped:
    """What a proposer command printed (see `run_piped`)."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    overflow: str | None = None  # which stream went over the cap, and the cap: the answer is not read

    @property
    def too_long(self) -> str | None:
        """Why the answer cannot be used because it was too long (one line naming the fix), or None."""
        if self.overflow is None:
            return None
        return f"the proposer printed more than {self.overflow}; print only the proposal (logs to a file)"


class _Capture:
    """Reads a stream into memory up to CAP bytes; the rest is drained and counted, never kept."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self.stream, self.cap = stream, cap
        self.data = bytearray()
        self.over = 0
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self) -> None:
        for chunk in iter(lambda: self.stream.read1(65536), b""):  # type: ignore[attr-defined]
            room = self.cap - len(self.data)
            self.data += chunk[: max(room, 0)]
            self.over += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        self.thread.join(timeout=10)
        return self.data.decode(errors="replace")


def _feed(stream: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # the command may exit without reading its input
        stream.write(data)
    with contextlib.suppress(OSError):
        stream.close()


def run_piped(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    preexec: Sequence[str] = (),
    stdin: str | None = None,
    max_bytes: int = MAX_PIPED_BYTES,
) -> Piped:
    """Run a proposer's COMMAND with STDIN, capturing its output; nothing it started survives it.

    Like `run_command`: its own session, and every process of it killed (`reaper.sweep`) before its
    output is used. At most MAX_BYTES of each stream are kept; more sets `overflow`.
    """
    argv = [*preexec, "/bin/sh", "-c", command]
    token = reaper.new_token()
    with reaper.LOCK:
        before = reaper.children()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**env, reaper.TOKEN_VAR: token},
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        reaper.register(proc.pid)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Capture(proc.stdout, max_bytes), _Capture(proc.stderr, max_bytes)
    if stdin is not None:
        assert proc.stdin is not None
        threading.Thread(target=_feed, args=(proc.stdin, stdin.encode()), daemon=True).start()
    with _contained(proc, before, token):
        timed_out = not _exited(proc, timeout)
    stdout, stderr = out.text(), err.text()
    overflow = next((f"{max_bytes} bytes on {name}" for name, c in (("stdout", out), ("stderr", err)) if c.over), None)
    return Piped(None if timed_out else proc.returncode, stdout, stderr, timed_out, overflow)
