"""`[run.slurm] mode = "pilot"`: the study's jobs run on pilots, long-lived Slurm jobs that take them
in turn, so that an experiment costs no Slurm scheduling, job launch or prolog of its own.

A job that finds no idle pilot gets a new one: a batch job with the options each job would get, its
own time limit (`[run.slurm] time`) and `python -m autoresearch.execute.slurm_pilot FOLDER`, where
FOLDER (in the study folder, `slurm-pilots/`) is the pilot's mailbox (slurm_pilot.py says what is in
it). So there are as many pilots as jobs running at once: one per worker. The job is written, as a job
of its own would be, to `<stem>slurm-job.json` in its log folder, and handed to the pilot as
`job.json`; the pilot writes `<stem>slurm-result.json` once every process of the run is gone, and it
is read as soon as it is there (a look every PILOT_POLL). The pilot then waits for the next job.

The pilots are the study's Slurm jobs, named with its tag and followed by the same squeue (slurm_queue
.py): Ctrl-C cancels them, and a study run again after its coordinator was killed cancels the pilots
the dead one left before it re-runs their experiments. A pilot that Slurm ends while it runs a job
(its time limit, scancel, a lost node) ends the job as a job of its own would end (and a lost node's
job is run again, on a new pilot); a pilot that leaves by itself before it claimed the job it was
given (idle, or too little time left) gives it back, and a fresh pilot runs it. When the study ends,
its pilots are told to stop; a pilot whose coordinator vanished leaves after `[run.slurm] idle`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute.executor import Job, JobResult
from autoresearch.execute.process import WATCH_INTERVAL
from autoresearch.execute.slurm_pilot import MARGIN
from autoresearch.execute.slurm_queue import (
    LOST,
    MAX_RETRIES,
    Files,
    Queue,
    SlurmError,
    Submitted,
    failed,
    last_line,
    minutes,
    outcome_of,
    remove,
    result_of,
    runner_of,
    slurm,
)
from autoresearch.spec import SlurmSection, Spec

# How many pilots in turn may leave by themselves (idle, too little time left) before one runs a job.
MAX_HANDS = 5
# Seconds between a pilot's looks for its next job, and the coordinator's for a job's outcome (a stat
# on the shared file system each): half of each is, on average, added to every experiment.
PILOT_POLL = 0.02


@dataclasses.dataclass
class Pilot:
    """One pilot: its Slurm job, as the queue follows it, and its mailbox."""

    submitted: Submitted
    folder: Path

    def left(self) -> bool:
        """Whether it has ended, or is leaving by itself: it takes no more jobs."""
        return self.submitted.ended.is_set() or self.submitted.cancelled or (self.folder / "exited").exists()

    def queued(self) -> bool:
        """Whether it still waits in Slurm's queue (a pilot writes `started` first thing)."""
        return not (self.folder / "started").exists() and not self.submitted.ended.is_set()


def pilot_limit(spec: Spec) -> float:
    """A pilot's time limit in seconds, whole minutes as Slurm counts it: [run.slurm] time, or four
    times what one run may take (run.timeout, kill_grace and a minute), so that a pilot spends most of
    its time running jobs before too little is left for the next."""
    settings = spec.run.slurm or SlurmSection()
    return 60.0 * minutes(settings.time or 4 * (spec.run.timeout + spec.run.kill_grace + 60))


class Pilots:
    """The study's pilots: submitting them, handing each job to one, and reading how it ended."""

    def __init__(self, spec: Spec, queue: Queue, options: list[str], python: str) -> None:
        self.spec = spec
        self.queue = queue
        self.options = options
        self.python = python
        self.settings = spec.run.slurm or SlurmSection()
        self.limit = pilot_limit(spec)
        self.anchor = spec.root
        self.folder = spec.study_dir / "slurm-pilots"
        self._idle: list[Pilot] = []  # last used last: the warmest pilot is taken first
        self._all: dict[str, Pilot] = {}  # by job name: every pilot not known to have ended
        self._lock = threading.Lock()

    def check(self) -> None:
        """Before the first job: a pilot must have time for one run at least."""
        needs = self.spec.run.timeout + self.spec.run.kill_grace
        if needs + 2 * MARGIN > self.limit:
            raise SlurmError(
                f"[run.slurm] time = {self.limit / 60:g} min leaves a pilot no time for an experiment, which may "
                f"take {needs:g}s (run.timeout and kill_grace) and {2 * MARGIN:g}s for the pilot itself; "
                "raise [run.slurm] time or lower run.timeout"
            )

    def run(self, job: Job) -> JobResult:
        files = Files.of(job)
        needs = (job.timeout or self.spec.run.timeout) + job.kill_grace
        if needs + 2 * MARGIN > self.limit:
            return failed(
                job,
                f"this command may take {needs:g}s (its timeout and kill_grace), more than a pilot's time "
                f"limit of {self.limit / 60:g} min leaves; raise [run.slurm] time",
            )
        runner = runner_of(job, files) | {"stop": str(files.stop), "needs": needs}
        safeio.write_text(files.job, json.dumps(runner), job.anchor)  # the record, as in job mode
        remove(files.stop, job.anchor)
        attempt = handed = 1
        while True:
            remove(files.result, job.anchor)  # an earlier attempt's outcome is never read as this one's
            pilot = self._take(job)
            if isinstance(pilot, JobResult):
                return pilot
            self._hand(pilot, runner)
            waited = self._wait(job, pilot, files, runner)
            if waited is None and handed < MAX_HANDS:
                handed += 1
                continue  # the pilot left before it claimed the job: another pilot runs it
            if waited is None:  # a fresh pilot always has time for it: this is not the cluster's doing
                return failed(job, f"{MAX_HANDS} pilots in turn left without running it: see {pilot.folder}")
            outcome, submitted = waited
            if submitted.state in LOST and not submitted.cancelled and attempt < MAX_RETRIES:
                attempt += 1
                continue
            return result_of(job, submitted, outcome, minutes(self.limit))

    def _take(self, job: Job) -> Pilot | JobResult:
        """An idle pilot (a started one first), or a new one; a JobResult saying why when Slurm refuses
        a new one."""
        return self._spare(started=True) or self._spare(started=False) or self._submit(job)

    def _spare(self, *, started: bool) -> Pilot | None:
        """An idle pilot, the last used first (the others may leave once idle long enough): a started
        one, or one still queued. Those that left are forgotten."""
        with self._lock:
            for pilot in list(reversed(self._idle)):
                if pilot.left():
                    self._idle.remove(pilot)
                    self._all.pop(pilot.submitted.name, None)
                elif pilot.queued() != started:
                    self._idle.remove(pilot)
                    return pilot
        return None

    def _submit(self, job: Job) -> Pilot | JobResult:
        key = uuid.uuid4().hex[:8]
        name = f"{self.queue.tag}.pilot-{key}"
        folder = self.folder / key
        os.close(safeio.open_dir(folder, self.anchor))
        settings = {"anchor": str(self.anchor), "limit": self.limit, "idle": self.settings.idle, "poll": PILOT_POLL}
        safeio.write_text(folder / "pilot.json", json.dumps(settings), self.anchor)
        log = folder / "pilot.log"
        common = [f"--job-name={name}", f"--output={log}", f"--chdir={folder}"]
        common += [f"--time={minutes(self.limit)}", *self.options]
        argv = [self.python, "-m", "autoresearch.execute.slurm_pilot", str(folder)]
        lines = ["#!/bin/sh", f"# a pilot of {job.label}: submitted by autoresearch with", f"#   {shlex.join(common)}"]
        script = folder / "pilot.sh"
        safeio.write_text(script, "\n".join([*lines, f"exec {shlex.join(argv)}", ""]), self.anchor)
        pilot = Pilot(Submitted(name, log), folder)
        self.queue.add(pilot.submitted)
        done = slurm("sbatch", "--parsable", *common, str(script))
        if done.returncode != 0:
            self.queue.discard(pilot.submitted)
            return failed(job, f"sbatch refused the pilot job: {last_line(done.stderr)}; check [run.slurm]")
        with self._lock:
            self._all[name] = pilot
        self.queue.submitted(pilot.submitted, done.stdout.strip().split(";")[0])
        return pilot

    def _hand(self, pilot: Pilot, runner: dict[str, Any]) -> None:
        """Put the job in PILOT's mailbox: written aside, then renamed in, so the pilot reads it whole."""
        safeio.write_text(pilot.folder / "job.json.new", json.dumps(runner), self.anchor)
        folder = safeio.open_dir(pilot.folder, self.anchor)
        try:
            os.rename("job.json.new", "job.json", src_dir_fd=folder, dst_dir_fd=folder)
        finally:
            os.close(folder)

    def _take_back(self, pilot: Pilot, *, forget: bool = True) -> bool:
        """Whether the job given to PILOT was still unclaimed, and is now taken back (the pilot claims a
        job by renaming it too: exactly one of the two renames finds it)."""
        folder = safeio.open_dir(pilot.folder, self.anchor)
        try:
            os.rename("job.json", "job.json.back", src_dir_fd=folder, dst_dir_fd=folder)
        except FileNotFoundError:
            return False
        finally:
            os.close(folder)
        if forget:  # it left: it takes no more jobs
            with self._lock:
                self._all.pop(pilot.submitted.name, None)
        return True

    def _wait(
        self, job: Job, pilot: Pilot, files: Files, runner: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Submitted] | None:
        """Until the pilot reports how the run ended, or ends itself: the outcome and the Slurm job to
        read its ending from; None when the pilot left without the job. While the pilot waits in Slurm's
        queue and another pilot is idle, the job moves to that one; a watch that says stop asks the
        pilot to stop the run meanwhile."""
        watch, looked, asked = job.watch, 0.0, False
        submitted = pilot.submitted
        while True:
            if pilot.queued() and (moved := self._move(pilot, runner)) is not None:
                pilot, submitted = moved, moved.submitted
            ended = submitted.ended.is_set()
            outcome = outcome_of(files.result, job.anchor)
            if outcome is not None and outcome.get("signal") is None and not submitted.cancelled:
                if not ended:
                    with self._lock:
                        self._idle.append(pilot)
                node = str(outcome.get("node") or submitted.node)
                return outcome, dataclasses.replace(submitted, state="COMPLETED", node=node)
            # A pilot that left by itself before it claimed the job gives it back (after Ctrl-C, it is
            # not given to another pilot); one that Slurm ended, or that failed, ends it as job mode would.
            if (pilot.folder / "exited").exists() and not submitted.cancelled and self._take_back(pilot):
                return None
            if ended:
                with self._lock:
                    self._all.pop(submitted.name, None)
                return outcome, submitted
            if watch is not None and not asked and looked + WATCH_INTERVAL <= (now := time.monotonic()):
                looked = now
                if watch.stops():
                    asked = True
                    safeio.write_text(files.stop, "", job.anchor)
            submitted.ended.wait(PILOT_POLL)

    def _move(self, queued: Pilot, runner: dict[str, Any]) -> Pilot | None:
        """The started idle pilot that the job given to QUEUED (still in Slurm's queue) moves to, or None.
        The job would otherwise wait for as long as the idle pilots hold their allocations (a node with
        room for two pilots, a study with three workers). QUEUED becomes idle in turn: the next job that
        finds no started pilot goes to it."""
        spare = self._spare(started=True)
        if spare is None:
            return None
        if not self._take_back(queued, forget=False):  # it has just started, and claimed the job
            with self._lock:
                self._idle.append(spare)
            return None
        with self._lock:
            self._idle.insert(0, queued)
        self._hand(spare, runner)
        return spare

    def close(self) -> None:
        """The study has ended: every pilot leaves (a busy one once its job is done; one still queued is
        cancelled, as it would read `stop` only once it started)."""
        with self._lock:
            pilots, self._all, self._idle = list(self._all.values()), {}, []
        for pilot in pilots:
            if pilot.queued():
                self.queue.cancel([pilot.submitted])
            elif not pilot.submitted.ended.is_set():
                safeio.write_text(pilot.folder / "stop", "", self.anchor)
