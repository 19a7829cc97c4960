"""What a Slurm job runs on its node: `python -m autoresearch.execute.slurm_job JOB.json`.

JOB.json (written by slurm.py in the job's log folder) holds the job as the local executor would run
it: the sandboxed command line, its folder, environment, timeout and capped logs. This runs it with
`run_command`, as a child subreaper, so that every process the command started -- in its group, in
another session, double-forked -- is killed before the outcome is written (reaper.py); only then does
it write RESULT (named in JOB.json), which the coordinator reads once Slurm reports the job ended.

Slurm's own tracking (proctrack/cgroup) kills what is left in the job when it ends, where the cluster
has it; this runner does not rely on it (proctrack/linuxproc or pgid lose a process that leaves the
job's tree or group). When Slurm stops the job (its time limit, scancel) it sends SIGTERM: the run is
stopped and swept here too, and the outcome says which signal ended it.

It imports only what running a command needs, so that a job starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute import reaper
from autoresearch.execute.process import experiment_env, run_command


class Stop:
    """A signal from Slurm that ends the job (SIGTERM at its time limit or on scancel), passed on to the
    run: SIGTERM to its process group at once, SIGKILL `kill_grace` seconds later, as a timeout does.
    The handler only signals; `run_command` then sees the run end and sweeps it as usual."""

    def __init__(self, kill_grace: float) -> None:
        self.kill_grace = kill_grace
        self.signum: int | None = None
        self.pgid: int | None = None

    def started(self, pgid: int) -> None:
        self.pgid = pgid
        if self.signum is not None:  # it came before the command started
            self._stop()

    def finished(self, _pgid: int) -> None:
        self.pgid = None  # a pilot's next signal must not reach a group id the system may have reused

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = self.signum or signum
        if self.pgid is not None:
            self._stop()

    def _stop(self) -> None:
        pgid = self.pgid
        assert pgid is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        later = threading.Timer(self.kill_grace, lambda: _kill(pgid))
        later.daemon = True
        later.start()


def _kill(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(job: dict[str, Any], stop: Stop) -> dict[str, Any]:
    """Run JOB (JOB.json's contents) to its end; the outcome to write."""
    with reaper.subreaper():
        result = run_command(
            job["command"],
            cwd=Path(job["cwd"]),
            # The allowlisted part of the job's environment (Slurm passes the submitter's, and sets the
            # CUDA_VISIBLE_DEVICES of the job's GPUs), then what autoresearch sets.
            env=experiment_env(os.environ, extra=job["env"], allow=job["pass_env"]),
            timeout=job["timeout"],
            stdout_path=Path(job["stdout"]),
            stderr_path=Path(job["stderr"]),
            max_log_bytes=job["max_log_bytes"],
            kill_grace=job["kill_grace"],
            preexec=job["sandbox"],
            on_start=stop.started,
            on_exit=stop.finished,
            anchor=Path(job["anchor"]),
            # The coordinator asks a pilot's run to stop (its [prune] watch) by writing this file.
            watch=(lambda: os.path.exists(job["stop"])) if job.get("stop") else None,
        )
    return {
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "duration": result.duration,
        "truncated": result.truncated,
        "error": result.error,
        "stdout_cut": result.stdout_cut,
        "stopped": result.stopped,
        "signal": stop.signum,
        "job": os.environ.get("SLURM_JOB_ID"),
        "node": os.environ.get("SLURMD_NODENAME"),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m autoresearch.execute.slurm_job JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    stop = Stop(job["kill_grace"])
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop.handle)
    outcome = run(job, stop)
    safeio.write_text(Path(job["result"]), json.dumps(outcome), Path(job["anchor"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
