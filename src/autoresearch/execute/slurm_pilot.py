"""What a pilot job runs on its node: `python -m autoresearch.execute.slurm_pilot FOLDER`.

A pilot (`[run.slurm] mode = "pilot"`) is one long-lived Slurm job that runs a study's jobs one after
another, each exactly as slurm_job.py runs a job of its own: the sandboxed command line, its timeout,
every process of it killed before its outcome is written. FOLDER, in the study folder, is the pilot's
mailbox with the coordinator (slurm_pilots.py):

    pilot.json    its settings: the anchor, its time limit, how long it waits idle, how often it looks
    job.json      the next job (the coordinator writes it aside and renames it in)
    running.json  the job it runs: it claims job.json by renaming it, and the coordinator takes back a
                  job by renaming job.json away, so a job is either the pilot's or back, never both
    stop          the study has ended: the pilot leaves
    started       written first thing: the pilot no longer waits in Slurm's queue
    exited        why the pilot left by itself (idle, too little time left for the next job)

A pilot leaves rather than start a job its time limit could cut: when less than the job's timeout, its
kill grace and MARGIN is left, it writes `exited` without claiming the job, and the coordinator gives
the job to a fresh pilot. It leaves after `idle` seconds without a job, so that a pilot whose
coordinator vanished does not hold its node for long. Slurm's SIGTERM (its time limit, scancel) stops
the running job as it stops a job of its own, and the pilot leaves once its outcome is written.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute.slurm_job import Stop, run

# Seconds a pilot keeps in hand beyond a job's timeout and kill grace: writing its outcome, and the
# moments between Slurm starting the pilot and the pilot reading its clock.
MARGIN = 15.0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m autoresearch.execute.slurm_pilot FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    settings = json.loads((folder / "pilot.json").read_text())
    anchor = Path(settings["anchor"])
    # Slurm counts the time limit from the job's start, a moment before this process's (MARGIN covers it).
    deadline = time.time() + settings["limit"]
    stop = Stop(kill_grace=5.0)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop.handle)
    safeio.write_text(folder / "started", f"{os.environ.get('SLURM_JOB_ID', '')}\n", anchor)
    idle_since = time.monotonic()
    while stop.signum is None:
        if os.path.exists(folder / "stop"):
            return leave(folder, anchor, "the study ended")
        job = _next(folder)
        if job is None:
            if time.monotonic() - idle_since > settings["idle"]:
                return leave(folder, anchor, f"no job for {settings['idle']:g}s ([run.slurm] idle)")
            time.sleep(settings["poll"])
            continue
        left = deadline - time.time()
        if left < job["needs"] + MARGIN:
            why = f"{left:.0f}s left of its time limit, and the next job may take {job['needs']:g}s"
            return leave(folder, anchor, why + " (its timeout and kill grace): a fresh pilot runs it")
        try:
            os.rename(folder / "job.json", folder / "running.json")
        except FileNotFoundError:
            continue  # the coordinator took it back
        stop.kill_grace = job["kill_grace"]
        outcome = run(job, stop)
        safeio.write_text(Path(job["result"]), json.dumps(outcome), Path(job["anchor"]))
        os.unlink(folder / "running.json")
        idle_since = time.monotonic()
    return 0  # Slurm stopped the pilot (it ends as Slurm says: TIMEOUT, CANCELLED...)


def _next(folder: Path) -> dict[str, Any] | None:
    """The job waiting in FOLDER, or None (there is none, or the coordinator took it back meanwhile)."""
    try:
        return dict(json.loads((folder / "job.json").read_text()))
    except FileNotFoundError:
        return None


def leave(folder: Path, anchor: Path, why: str) -> int:
    """Say why the pilot leaves (the coordinator reads `exited`; people read the pilot's log)."""
    safeio.write_text(folder / "exited", why + "\n", anchor)
    print(f"autoresearch pilot: leaving: {why}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
