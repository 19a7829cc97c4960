"""`run.executor = "slurm"`: each job runs as a Slurm job; the loop, store and proposer stay here.

The cluster's nodes see this machine's files at the same paths (a shared file system: the spec folder,
the study folder, the Python running autoresearch). A job becomes, in its log folder:

    <stem>slurm-job.json     the job as the local executor runs it: sandboxed command line, folder,
                             environment, timeout, capped logs (written here)
    <stem>slurm.sh           the batch script: `python -m autoresearch.execute.slurm_job <stem>slurm-job.json`
    <stem>slurm-result.json  how the command ended, written on the node once every process of it is gone
    <stem>slurm.log          what Slurm and the job runner printed (a time limit, a runner that failed)

and is submitted with `sbatch` (or started with `srun`, `[run.slurm] submit`). The job runner runs the
same sandboxed command line the local executor would, with its timeout and its reaper, so every
process of the run is killed before the outcome is written (slurm_job.py): here the outcome is read as
soon as it is written, as a local run's output is read as soon as its reaper is done. When the runner
wrote none, or names a signal (Slurm stopped the job: its time limit, scancel, a lost node), the job is
followed until Slurm reports it ended (not while it is COMPLETING, when its processes may still run),
and Slurm's state says how it ended.

One thread per study follows the submitted jobs with one `squeue` per `[run.slurm] poll` interval
(finished jobs stay in squeue's view for the cluster's MinJobAge; `sacct` is asked when they are gone).
Every job of a study carries the study's tag in its name: Ctrl-C cancels the study's jobs (`scancel`),
and a study run again after its coordinator was killed cancels the jobs the dead one left, before it
re-runs their experiments as a local study does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute.executor import Ending, Executor, ExecutorError, Job, JobResult, ending_of
from autoresearch.execute.process import WATCH_INTERVAL
from autoresearch.execute.resources import Slot
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


def time_limit(spec: Spec, job: Job) -> int:
    """JOB's time limit in minutes: [run.slurm] time, or long enough for the job's own timeout to act first."""
    settings = spec.run.slurm or SlurmSection()
    return minutes(settings.time or ((job.timeout or spec.run.timeout) + job.kill_grace + 60))


def options(spec: Spec) -> list[str]:
    """The sbatch/srun options every job of SPEC gets, from [run.slurm] and the run section (the time
    limit is each job's, `time_limit`)."""
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
    """The files of one Slurm job, in the job's log folder."""

    job: Path
    script: Path
    result: Path
    log: Path

    @classmethod
    def of(cls, job: Job) -> Files:
        stem = job.stdout.name.removesuffix("stdout.log")
        folder = job.stdout.parent
        names = ("slurm-job.json", "slurm.sh", "slurm-result.json", "slurm.log")
        return cls(*(folder / f"{stem}{name}" for name in names))


@dataclasses.dataclass
class Submitted:
    """A job handed to Slurm, as the follower thread last saw it."""

    name: str
    files: Files
    job_id: str = ""
    state: str = "PENDING"
    node: str = ""
    cancelled: bool = False  # by this study (Ctrl-C, a watch that stopped it)
    unseen_since: float | None = None  # when squeue stopped knowing it
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)


class SlurmExecutor(Executor):
    """Runs each job as a Slurm job on the cluster's nodes, over a shared file system."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.settings = spec.run.slurm or SlurmSection()
        self.tag = study_tag(spec)
        self.options = options(spec)
        self.python = self.settings.python or sys.executable
        self._live: dict[str, Submitted] = {}  # by job name
        self._lock = threading.Lock()
        self._follower: threading.Thread | None = None
        self._wake = threading.Event()

    def slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        return {i: Slot() for i in slots}  # Slurm places jobs and sets CUDA_VISIBLE_DEVICES on the node

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
            time.sleep(self.settings.poll)
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

    # -- running a job ------------------------------------------------------------------------------

    def run(self, job: Job) -> JobResult:
        files = Files.of(job)
        for attempt in range(1, MAX_RETRIES + 1):
            submitted = self._submit(job, files)
            if isinstance(submitted, JobResult):
                return submitted
            self._wait(job, submitted)
            if submitted.state not in LOST or submitted.cancelled or attempt == MAX_RETRIES:
                return self._result(job, submitted)
        raise AssertionError("unreachable")

    def _submit(self, job: Job, files: Files) -> Submitted | JobResult:
        """Write the job's files and hand it to Slurm; a JobResult saying why when Slurm refuses it."""
        runner = {
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
        safeio.write_text(files.job, json.dumps(runner), job.anchor)
        _remove(files.result, job.anchor)  # an earlier attempt's outcome is never read as this one's
        argv = [self.python, "-m", "autoresearch.execute.slurm_job", str(files.job)]
        name = f"{self.tag}.{uuid.uuid4().hex[:8]}"
        common = [f"--job-name={name}", f"--output={files.log}", f"--chdir={files.log.parent}"]
        common += [f"--time={time_limit(self.spec, job)}", *self.options]
        lines = ["#!/bin/sh", f"# {job.label}: submitted by autoresearch with", f"#   {shlex.join(common)}"]
        safeio.write_text(files.script, "\n".join([*lines, f"exec {shlex.join(argv)}", ""]), job.anchor)
        submitted = Submitted(name, files)
        with self._lock:
            self._live[name] = submitted
        if self.settings.submit == "srun":
            return self._srun(job, submitted, [*common, "--input=none", *argv])
        done = slurm("sbatch", "--parsable", *common, str(files.script))
        if done.returncode != 0:
            with self._lock:
                self._live.pop(name, None)
            return _failed(job, f"sbatch refused the job: {_last_line(done.stderr)}; check [run.slurm]")
        with self._lock:
            submitted.job_id = done.stdout.strip().split(";")[0]
            late = submitted.cancelled  # Ctrl-C came while sbatch ran: its scancel by name found nothing
        if late:
            self._cancel([submitted])
        self._follow()
        return submitted

    def _srun(self, job: Job, submitted: Submitted, argv: list[str]) -> Submitted | JobResult:
        """Start the job with srun, which Slurm allocates at once when the cluster has room (sbatch's jobs
        wait for the scheduler's next pass), and wait for srun to end."""
        if shutil.which("srun") is None:
            slurm("srun")  # raises, naming the fix
        process = subprocess.Popen(
            ["srun", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            process_group=0,  # Ctrl-C at the terminal is the loop's to handle, not srun's
        )
        watch, cancelled_at = job.watch, 0.0
        while True:
            try:
                _, said = process.communicate(timeout=WATCH_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                if submitted.cancelled and time.monotonic() - cancelled_at > 1:
                    # Again each second until srun ends: the first may have come before Slurm knew the job.
                    cancelled_at = time.monotonic()
                    self._cancel([submitted])
                elif watch is not None and not submitted.cancelled and watch.stops():
                    self._cancel([submitted])
        if self._reported(submitted, job.anchor):
            return submitted
        if not submitted.job_id:  # srun names no job id: its name does
            self._find_by_name(submitted)
        if not submitted.job_id:
            with self._lock:
                self._live.pop(submitted.name, None)
            if submitted.cancelled:
                return _failed(job, "cancelled", "cancelled")
            return _failed(job, f"srun could not start the job: {_last_line(said)}; check [run.slurm]")
        self._follow()
        return submitted

    def _find_by_name(self, submitted: Submitted) -> None:
        done = slurm("squeue", "--me", "--noheader", "--states=all", f"--name={submitted.name}", "--format=%i")
        ids = done.stdout.split()
        if done.returncode == 0 and ids:
            submitted.job_id = ids[-1]

    def _wait(self, job: Job, submitted: Submitted) -> None:
        """Until the job runner reports how the run ended or Slurm reports the job ended (it stopped the
        job: the runner reported a signal, or nothing); a watch that says stop cancels it meanwhile."""
        watch, looked = job.watch, time.monotonic()
        while not submitted.ended.wait(RESULT_INTERVAL):
            if self._reported(submitted, job.anchor):
                return
            if watch is not None and time.monotonic() - looked >= WATCH_INTERVAL:
                looked = time.monotonic()
                if not submitted.cancelled and watch.stops():
                    self._cancel([submitted])

    def _reported(self, submitted: Submitted, anchor: Path) -> bool:
        """Whether the job runner reported that the command ended by itself (the outcome names no signal
        from Slurm): every process of the run is gone then, so it is read at once, without waiting for
        Slurm to finish the job. The job is no longer this study's to follow or cancel."""
        outcome = _outcome(submitted.files.result, anchor)
        if submitted.cancelled or outcome is None or outcome.get("signal") is not None:
            return False
        submitted.state = "COMPLETED"
        submitted.job_id = submitted.job_id or str(outcome.get("job") or "")
        submitted.node = str(outcome.get("node") or submitted.node)
        with self._lock:
            self._live.pop(submitted.name, None)
        submitted.ended.set()
        return True

    # -- following jobs: one squeue for all ---------------------------------------------------------

    def _follow(self) -> None:
        with self._lock:
            if self._follower is None or not self._follower.is_alive():
                self._follower = threading.Thread(target=self._follow_all, name="slurm-follower", daemon=True)
                self._follower.start()
        self._wake.set()

    def _follow_all(self) -> None:
        while True:
            with self._lock:
                followed = {s.job_id: s for s in self._live.values() if s.job_id}
                if not self._live:
                    self._follower = None
                    return
            if followed:
                self._look(followed)
            self._wake.wait(self.settings.poll)
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
                with self._lock:
                    self._live.pop(submitted.name, None)
                submitted.ended.set()

    # -- what a job came to -------------------------------------------------------------------------

    def _result(self, job: Job, submitted: Submitted) -> JobResult:
        where = {"slurm_job": submitted.job_id, **({"slurm_node": submitted.node} if submitted.node else {})}
        outcome = _outcome(submitted.files.result, job.anchor)
        state, job_id = submitted.state, submitted.job_id
        base: dict[str, Any] = {"duration": float((outcome or {}).get("duration") or 0.0), "where": where}
        if submitted.cancelled:
            verdict = job.watch.verdict if job.watch is not None else None
            if verdict is not None:  # its watch stopped it: a pruned run
                return _ended(job, stopped=True, ending="stopped", verdict=verdict, **base)
            return _ended(job, error="cancelled", ending="cancelled", **base)
        if state == "FORGOTTEN" and outcome is not None:
            state = "COMPLETED"  # squeue forgot it, but the runner's outcome says how it ended
        if state == "TIMEOUT":
            limit = time_limit(self.spec, job)
            why = f"timed out: Slurm stopped job {job_id} at its time limit of {limit} min ([run.slurm] time)"
            return _ended(job, timed_out=True, error=why, ending="time_limit", **base)
        if state == "OUT_OF_MEMORY":
            why = f"Slurm job {job_id} ran out of memory ([run.slurm] memory)"
            return _ended(job, error=why, ending="out_of_memory", **base)
        if state == "CANCELLED":
            why = f"Slurm job {job_id} was cancelled from outside the study (scancel)"
            return _ended(job, error=why, ending="cancelled", **base)
        if state in LOST or state in ("DEADLINE", "FORGOTTEN"):
            why = f"Slurm job {job_id} ended {state} on {submitted.node or 'no node'}"
            why += f", after {MAX_RETRIES} tries" if state in LOST else ""
            return _ended(job, error=why, ending="lost", **base)
        if outcome is None:  # COMPLETED or FAILED, and the runner wrote nothing: it could not run
            tail = _last_line(_tail(submitted.files.log, job.anchor))
            why = f"Slurm job {job_id} ({state}) ended before autoresearch's job runner reported"
            return _ended(job, error=f"{why}: {tail} (see {submitted.files.log})", ending="not_started", **base)
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

    # -- stopping -----------------------------------------------------------------------------------

    def _cancel(self, jobs: list[Submitted]) -> None:
        with self._lock:
            for submitted in jobs:
                submitted.cancelled = True
            ids = [s.job_id for s in jobs if s.job_id]
        if ids:
            slurm("scancel", *ids)
        for name in (s.name for s in jobs if not s.job_id):  # srun's, before their id is known
            slurm("scancel", "--me", f"--name={name}")

    def cancel_all(self) -> None:
        with self._lock:
            live = list(self._live.values())
        if live:
            self._cancel(live)
        self._wake.set()


# -- small helpers ---------------------------------------------------------------------------------


def _ended(job: Job, *, ending: Ending, duration: float, where: dict[str, str], **fields: Any) -> JobResult:
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


def _failed(job: Job, error: str, ending: Ending = "not_started") -> JobResult:
    return _ended(job, error=error, ending=ending, duration=0.0, where={})


def _remove(path: Path, anchor: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        folder = safeio.open_dir(path.parent, anchor)
        try:
            os.unlink(path.name, dir_fd=folder)
        except FileNotFoundError:
            pass
        finally:
            os.close(folder)


def _outcome(path: Path, anchor: Path) -> dict[str, Any] | None:
    """What the job runner wrote, or None when it wrote nothing readable."""
    try:
        return dict(json.loads(safeio.read_capped(path, anchor, 1024 * 1024)))
    except (OSError, ValueError, TypeError, safeio.UnsafePath, safeio.TooLarge):
        return None


def _tail(path: Path, anchor: Path) -> str:
    try:
        data = safeio.read_bytes(path, anchor)
    except (OSError, safeio.UnsafePath):
        return ""
    return data[-2000:].decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return re.sub(r"\s+", " ", lines[-1]) if lines else "(nothing printed)"


def _accounted_state(job_id: str) -> str | None:
    """JOB_ID's state from Slurm's accounting (sacct), or None where it has none."""
    if shutil.which("sacct") is None:
        return None
    done = slurm("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={job_id}", "--format=State")
    state = done.stdout.strip().split(" ")[0] if done.returncode == 0 else ""
    return state or None
