"""Where experiments run: an executor takes a self-contained job and returns how it ended.

The evaluator prepares each job (the sandboxed command line, its folder, environment, limits, log
paths, what it will read afterwards) and interprets the result (metrics, guards, repeats); an executor
only runs jobs. `local` runs them here, `ray` as Ray tasks, `slurm` as Slurm jobs; a package adds
another by registering a subclass of `Executor` under the entry-point group `autoresearch.executors`
(docs/extending.md), and `run.executor` names it.

A job pickles and holds nothing that calls back into the evaluator. The contract of `Executor.run`:
when it returns, every process the job started has ended, and the job's logs, its writable folders and
its `read_back` files are where the job names them on this machine (a shared file system, or copied
back), so that the evaluator reads them as it reads a local run's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from autoresearch.core import plugins
from autoresearch.execute.process import RunResult, experiment_env
from autoresearch.execute.prune import LogWatcher, Verdict
from autoresearch.execute.resources import Slot
from autoresearch.execute.sandbox import View
from autoresearch.spec import Spec

# How a job ended. `timeout`: past the job's own timeout; `time_limit`: stopped by the cluster's time
# limit; `stopped`: by its watch (a pruned run); `killed`: by a signal (Ctrl-C, the OOM killer);
# `cancelled`: by the cluster (scancel); `lost`: its worker or node died; `not_started`: it never ran.
Ending = Literal[
    "exited", "timeout", "time_limit", "stopped", "killed", "cancelled", "out_of_memory", "lost", "not_started"
]


class ExecutorError(Exception):
    """An executor cannot run jobs here (its cluster is missing or unreachable, a job is too big to
    ship); the message says what to do. The command line prints it as one line."""


@dataclass(frozen=True)
class Job:
    """One sandboxed command to run to its end, with everything needed to run it anywhere."""

    command: str  # a shell command line, placeholders already filled
    cwd: Path
    env: dict[str, str]  # what autoresearch sets for it (run.env, the seed, the params file, devices...)
    timeout: float | None  # seconds before SIGTERM; KILL_GRACE seconds later, SIGKILL
    kill_grace: float
    stdout: Path  # its logs, opened below ANCHOR without following links, capped at MAX_LOG_BYTES
    stderr: Path
    anchor: Path
    max_log_bytes: int
    sandbox: tuple[str, ...]  # the argv prefix that sandboxes it with VIEW here (and pins its CPUs)
    view: View  # what it sees: its folder, the folders it writes, the files it reads (what is shipped)
    protected: tuple[str, ...] = ()  # globs under VIEW.root whose hashes the evaluator compares after it
    read_back: tuple[Path, ...] = ()  # files it writes that the evaluator reads (a metrics JSON)
    watch: LogWatcher | None = None  # reads its growing stdout log and may stop it early ([prune])
    label: str = ""  # for people and cluster queues: the study and the log folder
    pass_env: tuple[str, ...] = ()  # run.pass_env: more names than the allowlist passes (see `environment`)

    def environment(self, where: Mapping[str, str] = os.environ) -> dict[str, str]:
        """The job's whole environment on the machine it runs on, whose environment is WHERE: the allowlisted
        part of it (PATH, HOME, LC_*, CUDA_VISIBLE_DEVICES as a scheduler set it, ... and PASS_ENV), then ENV."""
        return experiment_env(where, extra=self.env, allow=self.pass_env)


@dataclass
class JobResult(RunResult):
    """How a job ended (RunResult's fields: exit code, timing, log paths), and where it ran."""

    ending: Ending = "exited"
    where: dict[str, str] = field(default_factory=dict)  # recorded in the experiment's extra (ray_node, slurm_job)
    hashes: dict[str, str] | None = None  # PROTECTED's hashes after the run, where it ran (None: here)
    verdict: Verdict | None = None  # why the job's watch stopped it


def ending_of(result: RunResult) -> Ending:
    """How a run on this machine ended, from what `run_command` saw."""
    if result.error is not None:
        return "not_started"
    if result.timed_out:
        return "timeout"
    if result.stopped:
        return "stopped"
    if result.exit_code is not None and result.exit_code < 0:
        return "killed"
    return "exited"


def job_result(result: RunResult, **fields: object) -> JobResult:
    """RESULT as a JobResult, with its ending and FIELDS."""
    values = {name: getattr(result, name) for name in RunResult.__dataclass_fields__}
    fields.setdefault("ending", ending_of(result))
    return JobResult(**values, **fields)  # type: ignore[arg-type]


class Executor:
    """Runs jobs for one study. Subclasses implement `run`; the other hooks are optional.

    `run` is called from several threads at once (one per running experiment) and blocks until the
    job has ended; everything else is called from the loop's main thread.
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def run(self, job: Job) -> JobResult:
        raise NotImplementedError

    def slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        """The devices on this machine each worker slot owns (CUDA_VISIBLE_DEVICES, CPU pinning); an
        executor that places jobs itself (a cluster) returns slots without local devices."""
        return slots

    def prime(self) -> None:
        """Before the first job, holding the study's lock: connect to a cluster, and stop the jobs that a
        coordinator of this study which died (kill -9) left running."""

    def cancel_all(self) -> None:
        """Stop every running job now (Ctrl-C); their `run` calls return soon after."""

    def close(self) -> None:
        """The study has stopped."""


def make_executor(spec: Spec) -> Executor:
    """The executor `run.executor` names, from the plugin registry."""
    factory = plugins.load("executors", spec.run.executor)
    executor = factory(spec)
    if not isinstance(executor, Executor):
        raise TypeError(f"executor {spec.run.executor!r} ({factory!r}) is not an autoresearch Executor")
    return executor
