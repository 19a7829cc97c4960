"""What both Slurm modes share: Slurm's commands, the options a study's jobs get, following the study's
jobs with one `squeue` per poll interval, and turning how a job ended into a JobResult.

Finished jobs stay in squeue's view for the cluster's MinJobAge; `sacct` is asked when they are gone.
Every job of a study carries the study's tag in its name: Ctrl-C cancels the study's jobs (`scancel`),
and a study run again after its coordinator was killed cancels the jobs the dead one left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute.executor import Ending, ExecutorError, Job, JobResult, ending_of
from autoresearch.spec import SlurmSection, Spec

# Slurm's states of a job that has ended (squeue %T, sacct State); any other (PENDING, RUNNING,
# COMPLETING, CONFIGURING, SUSPENDED, REQUEUED...) means it may still run or write.
ENDED = frozenset(
    {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)
# Ended by the cluster, not by the run: submitted again, as Ray re-runs a task whose node died.
LOST = frozenset({"NODE_FAIL", "BOOT_FAIL", "PREEMPTED"})
MAX_RETRIES = 3
# Seconds between looks for a running job's outcome file (a stat, on the shared file system).
RESULT_INTERVAL = 0.05
# How long Slurm may take to end the jobs a dead coordinator left, when a study starts again.
STALE_WAIT = 120.0
# squeue no longer knows a job (past MinJobAge) and sacct cannot say: treated as ended after this long.
FORGOTTEN_AFTER = 30.0


class SlurmError(ExecutorError):
    """Slurm's commands are missing or refuse the job; the message names the fix."""


def slurm(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one of Slurm's commands (sbatch, squeue, scancel, sacct), capturing its output."""
    if shutil.which(argv[0]) is None:
        raise SlurmError(
            f'run.executor = "slurm" needs Slurm\'s `{argv[0]}`, which is not on PATH; run autoresearch where '
            "Slurm's client commands are installed (Debian: apt-get install slurm-client)"
        )
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"`{argv[0]}` did not answer in {timeout:g}s: is slurmctld reachable from here?") from None


def study_tag(spec: Spec) -> str:
    """The prefix of every job name of SPEC's study (its folder's hash: the same study, wherever run from)."""
    digest = hashlib.sha256(str(spec.study_dir.resolve()).encode()).hexdigest()[:10]
    return f"autoresearch-{digest}"


def minutes(seconds: float) -> int:
    """Slurm's time limits are whole minutes."""
    return max(math.ceil(seconds / 60), 1)


def options(spec: Spec) -> list[str]:
    """The sbatch/srun options every job of SPEC gets, from [run.slurm] and the run section (the time
    limit is each job's)."""
    run, slurm_section = spec.run, spec.run.slurm or SlurmSection()
    found = [f"--cpus-per-task={slurm_section.cpus or run.cpus_per_experiment or 1}"]
    if slurm_section.partition:
        found.append(f"--partition={slurm_section.partition}")
    gres = slurm_section.gres or (f"gpu:{int(run.gpus)}" if run.gpus else None)
    if gres:
        found.append(f"--gres={gres}")
    if slurm_section.memory:
        found.append(f"--mem={math.ceil(slurm_section.memory / 1024**2)}M")
    if slurm_section.account:
        found.append(f"--account={slurm_section.account}")
    if slurm_section.qos:
        found.append(f"--qos={slurm_section.qos}")
    return found + list(slurm_section.extra)


@dataclasses.dataclass
class Files:
    """The files of one job, in the job's log folder (`stop`: a pilot's run is asked to stop)."""

    job: Path
    script: Path
    result: Path
    log: Path
    stop: Path

    @classmethod
    def of(cls, job: Job) -> Files:
        stem = job.stdout.name.removesuffix("stdout.log")
        folder = job.stdout.parent
        names = ("slurm-job.json", "slurm.sh", "slurm-result.json", "slurm.log", "slurm-stop")
        return cls(*(folder / f"{stem}{name}" for name in names))


def runner_of(job: Job, files: Files) -> dict[str, Any]:
    """JOB as the job runner on the node reads it (slurm_job.py): everything it needs to run it."""
    return {
        "command": job.command,
        "cwd": str(job.cwd),
        "env": job.env,
        "pass_env": list(job.pass_env),
        "timeout": job.timeout,
        "kill_grace": job.kill_grace,
        "stdout": str(job.stdout),
        "stderr": str(job.stderr),
        "max_log_bytes": job.max_log_bytes,
        "sandbox": list(job.sandbox),
        "anchor": str(job.anchor),
        "result": str(files.result),
    }


@dataclasses.dataclass
class Submitted:
    """A Slurm job of the study (one command's, or a pilot), as the follower thread last saw it."""

    name: str
    log: Path  # what Slurm and the runner print
    job_id: str = ""
    state: str = "PENDING"
    node: str = ""
    cancelled: bool = False  # by this study (Ctrl-C, a watch that stopped it)
    unseen_since: float | None = None  # when squeue stopped knowing it
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)


class Queue:
    """The study's jobs on the cluster, followed by one thread with one squeue per POLL seconds."""

    def __init__(self, tag: str, poll: float) -> None:
        self.tag = tag
        self.poll = poll
        self.live: dict[str, Submitted] = {}  # by job name
        self.lock = threading.Lock()
        self._follower: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, submitted: Submitted) -> None:
        with self.lock:
            self.live[submitted.name] = submitted

    def discard(self, submitted: Submitted) -> None:
        with self.lock:
            self.live.pop(submitted.name, None)

    def submitted(self, submitted: Submitted, job_id: str) -> None:
        """Slurm took SUBMITTED as JOB_ID: follow it (and cancel it, if Ctrl-C came while sbatch ran: its
        scancel by name found nothing then)."""
        with self.lock:
            submitted.job_id = job_id
            late = submitted.cancelled
        if late:
            self.cancel([submitted])
        self.follow()

    # -- a study's start: the jobs a dead coordinator left ------------------------------------------

    def prime(self) -> None:
        """Cancel the jobs of this study still queued or running (their coordinator died: this one holds
        the study's lock) and wait until Slurm has ended them, so none writes into a re-run's folder."""
        stale = self._jobs_of_study()
        if not stale:
            return
        slurm("scancel", *stale)
        deadline = time.monotonic() + STALE_WAIT
        while (left := self._jobs_of_study()) and time.monotonic() < deadline:
            time.sleep(self.poll)
        if left:
            raise SlurmError(
                f"Slurm job(s) {', '.join(left)} of an earlier run of this study did not end in "
                f"{STALE_WAIT:g}s after scancel; wait for them (squeue --me) and run again"
            )

    def _jobs_of_study(self) -> list[str]:
        """Ids of this study's jobs that have not ended (queued, running or completing)."""
        done = slurm("squeue", "--me", "--noheader", "--format=%i|%j|%T")
        if done.returncode != 0:
            raise SlurmError(f"squeue failed: {done.stderr.strip()}; is the Slurm cluster reachable from here?")
        found = []
        for line in done.stdout.splitlines():
            job_id, _, rest = line.strip().partition("|")
            name, _, state = rest.rpartition("|")
            if name.startswith(self.tag + ".") and state not in ENDED:
                found.append(job_id)
        return found

    # -- following jobs: one squeue for all ---------------------------------------------------------

    def follow(self) -> None:
        with self.lock:
            if self._follower is None or not self._follower.is_alive():
                self._follower = threading.Thread(target=self._follow_all, name="slurm-follower", daemon=True)
                self._follower.start()
        self._wake.set()

    def _follow_all(self) -> None:
        while True:
            with self.lock:
                followed = {s.job_id: s for s in self.live.values() if s.job_id}
                if not self.live:
                    self._follower = None
                    return
            if followed:
                self._look(followed)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _look(self, followed: dict[str, Submitted]) -> None:
        done = slurm("squeue", "--noheader", "--states=all", f"--jobs={','.join(followed)}", "--format=%i|%T|%N")
        if done.returncode != 0 and "Invalid job id" not in done.stderr:
            return  # slurmctld did not answer this time: ask again at the next look
        seen: set[str] = set()
        for line in done.stdout.splitlines() if done.returncode == 0 else []:
            job_id, state, node = [*line.strip().split("|"), "", ""][:3]
            submitted = followed.get(job_id)
            if submitted is not None:
                seen.add(job_id)
                submitted.state, submitted.node, submitted.unseen_since = state, node or submitted.node, None
        now = time.monotonic()
        for job_id, submitted in followed.items():
            if job_id not in seen:  # past MinJobAge, or slurmctld restarted: ask the accounting
                submitted.unseen_since = submitted.unseen_since or now
                accounted = _accounted_state(job_id)
                if accounted is not None:
                    submitted.state = accounted
                elif now - submitted.unseen_since > FORGOTTEN_AFTER:
                    submitted.state = "FORGOTTEN"
            if submitted.state in ENDED or submitted.state == "FORGOTTEN":
                self.discard(submitted)
                submitted.ended.set()

    # -- stopping -----------------------------------------------------------------------------------

    def cancel(self, jobs: list[Submitted]) -> None:
        with self.lock:
            for submitted in jobs:
                submitted.cancelled = True
            ids = [s.job_id for s in jobs if s.job_id]
        if ids:
            slurm("scancel", *ids)
        for name in (s.name for s in jobs if not s.job_id):  # srun's, before their id is known
            slurm("scancel", "--me", f"--name={name}")

    def cancel_all(self) -> None:
        with self.lock:
            live = list(self.live.values())
        if live:
            self.cancel(live)
        self._wake.set()


# -- what a job came to ----------------------------------------------------------------------------


def result_of(job: Job, submitted: Submitted, outcome: dict[str, Any] | None, limit: int) -> JobResult:
    """How JOB ended: the runner's OUTCOME, or how Slurm ended SUBMITTED (the job, or the pilot that ran
    it), whose time limit was LIMIT minutes."""
    where = {"slurm_job": submitted.job_id, **({"slurm_node": submitted.node} if submitted.node else {})}
    state, job_id = submitted.state, submitted.job_id
    base: dict[str, Any] = {"duration": float((outcome or {}).get("duration") or 0.0), "where": where}
    verdict = job.watch.verdict if job.watch is not None else None
    if submitted.cancelled or (outcome or {}).get("stopped"):
        if verdict is not None:  # its watch stopped it: a pruned run
            return ended(job, stopped=True, ending="stopped", verdict=verdict, **base)
        return ended(job, error="cancelled", ending="cancelled", **base)
    if state == "FORGOTTEN" and outcome is not None:
        state = "COMPLETED"  # squeue forgot it, but the runner's outcome says how it ended
    if state == "TIMEOUT":
        why = f"timed out: Slurm stopped job {job_id} at its time limit of {limit} min ([run.slurm] time)"
        return ended(job, timed_out=True, error=why, ending="time_limit", **base)
    if state == "OUT_OF_MEMORY":
        why = f"Slurm job {job_id} ran out of memory ([run.slurm] memory)"
        return ended(job, error=why, ending="out_of_memory", **base)
    if state == "CANCELLED":
        why = f"Slurm job {job_id} was cancelled from outside the study (scancel)"
        return ended(job, error=why, ending="cancelled", **base)
    if state in LOST or state in ("DEADLINE", "FORGOTTEN"):
        why = f"Slurm job {job_id} ended {state} on {submitted.node or 'no node'}"
        why += f", after {MAX_RETRIES} tries" if state in LOST else ""
        return ended(job, error=why, ending="lost", **base)
    if outcome is None:  # COMPLETED or FAILED, and the runner wrote nothing: it could not run
        tail = last_line(tail_of(submitted.log, job.anchor))
        why = f"Slurm job {job_id} ({state}) ended before autoresearch's job runner reported"
        return ended(job, error=f"{why}: {tail} (see {submitted.log})", ending="not_started", **base)
    result = JobResult(
        exit_code=outcome.get("exit_code"),
        timed_out=bool(outcome.get("timed_out")),
        duration=base["duration"],
        stdout_path=job.stdout,
        stderr_path=job.stderr,
        truncated=bool(outcome.get("truncated")),
        error=outcome.get("error"),
        stdout_cut=int(outcome.get("stdout_cut") or 0),
        where=where,
    )
    result.ending = ending_of(result)
    return result


def ended(job: Job, *, ending: Ending, duration: float, where: dict[str, str], **fields: Any) -> JobResult:
    return JobResult(
        exit_code=None,
        timed_out=fields.pop("timed_out", False),
        duration=duration,
        stdout_path=job.stdout,
        stderr_path=job.stderr,
        truncated=False,
        ending=ending,
        where=where,
        **fields,
    )


def failed(job: Job, error: str, ending: Ending = "not_started") -> JobResult:
    return ended(job, error=error, ending=ending, duration=0.0, where={})


# -- small helpers ---------------------------------------------------------------------------------


def remove(path: Path, anchor: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        folder = safeio.open_dir(path.parent, anchor)
        try:
            os.unlink(path.name, dir_fd=folder)
        except FileNotFoundError:
            pass
        finally:
            os.close(folder)


def outcome_of(path: Path, anchor: Path) -> dict[str, Any] | None:
    """What the job runner wrote, or None when it wrote nothing readable."""
    try:
        return dict(json.loads(safeio.read_capped(path, anchor, 1024 * 1024)))
    except (OSError, ValueError, TypeError, safeio.UnsafePath, safeio.TooLarge):
        return None


def tail_of(path: Path, anchor: Path) -> str:
    try:
        data = safeio.read_bytes(path, anchor)
    except (OSError, safeio.UnsafePath):
        return ""
    return data[-2000:].decode(errors="replace")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return re.sub(r"\s+", " ", lines[-1]) if lines else "(nothing printed)"


def _accounted_state(job_id: str) -> str | None:
    """JOB_ID's state from Slurm's accounting (sacct), or None where it has none."""
    if shutil.which("sacct") is None:
        return None
    done = slurm("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={job_id}", "--format=State")
    state = done.stdout.strip().split(" ")[0] if done.returncode == 0 else ""
    return state or None
