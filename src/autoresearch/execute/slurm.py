"""`run.executor = "slurm"`: each job runs on the cluster's nodes; the loop, store and proposer stay here.

The cluster's nodes see this machine's files at the same paths (a shared file system: the spec folder,
the study folder, the Python running autoresearch). `[run.slurm] mode` says how jobs reach the nodes:

* "job" (the default, here): each job is a Slurm job of its own. It becomes, in its log folder:

    <stem>slurm-job.json     the job as the local executor runs it: sandboxed command line, folder,
                             environment, timeout, capped logs (written here)
    <stem>slurm.sh           the batch script: `python -m autoresearch.execute.slurm_job <stem>slurm-job.json`
    <stem>slurm-result.json  how the command ended, written on the node once every process of it is gone
    <stem>slurm.log          what Slurm and the job runner printed (a time limit, a runner that failed)

  and is submitted with `sbatch` (or started with `srun`, `[run.slurm] submit`).
* "pilot": one long-lived Slurm job per running worker takes jobs in turn (slurm_pilots.py).

Either way the node runs the same sandboxed command line the local executor would, with its timeout and
its reaper, so every process of the run is killed before the outcome is written (slurm_job.py): here
the outcome is read as soon as it is written, as a local run's output is read as soon as its reaper is
done. When the runner wrote none, or names a signal (Slurm stopped the job: its time limit, scancel, a
lost node), the job is followed until Slurm reports it ended (not while it is COMPLETING, when its
processes may still run), and Slurm's state says how it ended (slurm_queue.py).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from autoresearch.core import safeio
from autoresearch.execute.executor import Executor, Job, JobResult
from autoresearch.execute.process import WATCH_INTERVAL
from autoresearch.execute.resources import Slot
from autoresearch.execute.slurm_pilots import Pilots
from autoresearch.execute.slurm_queue import (
    LOST,
    MAX_RETRIES,
    RESULT_INTERVAL,
    Files,
    Queue,
    Submitted,
    failed,
    last_line,
    minutes,
    options,
    outcome_of,
    remove,
    result_of,
    runner_of,
    slurm,
    study_tag,
)
from autoresearch.spec import SlurmSection, Spec


def time_limit(spec: Spec, job: Job) -> int:
    """JOB's time limit in minutes: [run.slurm] time, or long enough for the job's own timeout to act first."""
    settings = spec.run.slurm or SlurmSection()
    return minutes(settings.time or ((job.timeout or spec.run.timeout) + job.kill_grace + 60))


class SlurmExecutor(Executor):
    """Runs each job on the cluster's nodes over a shared file system: as a Slurm job of its own, or
    ([run.slurm] mode = "pilot") on one of the study's pilots."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.settings = spec.run.slurm or SlurmSection()
        self.tag = study_tag(spec)
        self.options = options(spec)
        self.python = self.settings.python or sys.executable
        self.queue = Queue(self.tag, self.settings.poll)
        self.pilots = Pilots(spec, self.queue, self.options, self.python) if self.settings.mode == "pilot" else None

    def slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        return {i: Slot() for i in slots}  # Slurm places jobs and sets CUDA_VISIBLE_DEVICES on the node

    def prime(self) -> None:
        if self.pilots is not None:
            self.pilots.check()
        self.queue.prime()

    # -- running a job ------------------------------------------------------------------------------

    def run(self, job: Job) -> JobResult:
        if self.pilots is not None:
            return self.pilots.run(job)
        files = Files.of(job)
        for attempt in range(1, MAX_RETRIES + 1):
            submitted = self._submit(job, files)
            if isinstance(submitted, JobResult):
                return submitted
            self._wait(job, submitted, files)
            if submitted.state not in LOST or submitted.cancelled or attempt == MAX_RETRIES:
                return result_of(job, submitted, outcome_of(files.result, job.anchor), time_limit(self.spec, job))
        raise AssertionError("unreachable")

    def _submit(self, job: Job, files: Files) -> Submitted | JobResult:
        """Write the job's files and hand it to Slurm; a JobResult saying why when Slurm refuses it."""
        safeio.write_text(files.job, json.dumps(runner_of(job, files)), job.anchor)
        remove(files.result, job.anchor)  # an earlier attempt's outcome is never read as this one's
        argv = [self.python, "-m", "autoresearch.execute.slurm_job", str(files.job)]
        name = f"{self.tag}.{uuid.uuid4().hex[:8]}"
        common = [f"--job-name={name}", f"--output={files.log}", f"--chdir={files.log.parent}"]
        common += [f"--time={time_limit(self.spec, job)}", *self.options]
        lines = ["#!/bin/sh", f"# {job.label}: submitted by autoresearch with", f"#   {shlex.join(common)}"]
        safeio.write_text(files.script, "\n".join([*lines, f"exec {shlex.join(argv)}", ""]), job.anchor)
        submitted = Submitted(name, files.log)
        self.queue.add(submitted)
        if self.settings.submit == "srun":
            return self._srun(job, submitted, files, [*common, "--input=none", *argv])
        done = slurm("sbatch", "--parsable", *common, str(files.script))
        if done.returncode != 0:
            self.queue.discard(submitted)
            return failed(job, f"sbatch refused the job: {last_line(done.stderr)}; check [run.slurm]")
        self.queue.submitted(submitted, done.stdout.strip().split(";")[0])
        return submitted

    def _srun(self, job: Job, submitted: Submitted, files: Files, argv: list[str]) -> Submitted | JobResult:
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
                    self.queue.cancel([submitted])
                elif watch is not None and not submitted.cancelled and watch.stops():
                    self.queue.cancel([submitted])
        if self._reported(submitted, files, job.anchor):
            return submitted
        if not submitted.job_id:  # srun names no job id: its name does
            self._find_by_name(submitted)
        if not submitted.job_id:
            self.queue.discard(submitted)
            if submitted.cancelled:
                return failed(job, "cancelled", "cancelled")
            return failed(job, f"srun could not start the job: {last_line(said)}; check [run.slurm]")
        self.queue.follow()
        return submitted

    def _find_by_name(self, submitted: Submitted) -> None:
        done = slurm("squeue", "--me", "--noheader", "--states=all", f"--name={submitted.name}", "--format=%i")
        ids = done.stdout.split()
        if done.returncode == 0 and ids:
            submitted.job_id = ids[-1]

    def _wait(self, job: Job, submitted: Submitted, files: Files) -> None:
        """Until the job runner reports how the run ended or Slurm reports the job ended (it stopped the
        job: the runner reported a signal, or nothing); a watch that says stop cancels it meanwhile."""
        watch, looked = job.watch, time.monotonic()
        while not submitted.ended.wait(RESULT_INTERVAL):
            if self._reported(submitted, files, job.anchor):
                return
            if watch is not None and time.monotonic() - looked >= WATCH_INTERVAL:
                looked = time.monotonic()
                if not submitted.cancelled and watch.stops():
                    self.queue.cancel([submitted])

    def _reported(self, submitted: Submitted, files: Files, anchor: Path) -> bool:
        """Whether the job runner reported that the command ended by itself (the outcome names no signal
        from Slurm): every process of the run is gone then, so it is read at once, without waiting for
        Slurm to finish the job. The job is no longer this study's to follow or cancel."""
        outcome = outcome_of(files.result, anchor)
        if submitted.cancelled or outcome is None or outcome.get("signal") is not None:
            return False
        submitted.state = "COMPLETED"
        submitted.job_id = submitted.job_id or str(outcome.get("job") or "")
        submitted.node = str(outcome.get("node") or submitted.node)
        self.queue.discard(submitted)
        submitted.ended.set()
        return True

    # -- stopping -----------------------------------------------------------------------------------

    def cancel_all(self) -> None:
        self.queue.cancel_all()

    def close(self) -> None:
        if self.pilots is not None:
            self.pilots.close()
