"""`run.executor = "local"` (the default): jobs run here, as process groups in the spec's sandbox."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from autoresearch.execute.executor import Executor, Job, JobResult, job_result
from autoresearch.execute.process import run_command
from autoresearch.spec import Spec


class RunningProcesses:
    """Process groups of running jobs, so Ctrl-C can stop them all from the main thread."""

    def __init__(self) -> None:
        self._pgids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, pgid: int) -> None:
        with self._lock:
            self._pgids.add(pgid)

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._pgids.discard(pgid)

    def kill_all(self) -> None:
        with self._lock:
            for pgid in self._pgids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)


def run_here(job: Job, running: RunningProcesses | None = None) -> JobResult:
    """Run JOB on this machine: its sandbox prefix, timeout, capped logs and watch; every process it
    started is killed before this returns (`run_command`). RUNNING learns its process group."""
    watch = job.watch
    result = run_command(
        job.command,
        cwd=job.cwd,
        env=job.environment(),
        timeout=job.timeout,
        stdout_path=job.stdout,
        stderr_path=job.stderr,
        max_log_bytes=job.max_log_bytes,
        kill_grace=job.kill_grace,
        preexec=list(job.sandbox),
        on_start=running.add if running is not None else None,
        on_exit=running.discard if running is not None else None,
        anchor=job.anchor,
        watch=watch.stops if watch is not None else None,
    )
    return job_result(result, verdict=watch.verdict if watch is not None and result.stopped else None)


class LocalExecutor(Executor):
    """Runs each job here, as a process group; Ctrl-C kills them all."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.running = RunningProcesses()

    def run(self, job: Job) -> JobResult:
        return run_here(job, self.running)

    def cancel_all(self) -> None:
        self.running.kill_all()
