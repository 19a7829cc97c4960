"""Per-experiment devices on one machine: disjoint GPUs (CUDA_VISIBLE_DEVICES) and CPUs (affinity).

Each running experiment holds a slot (the loop hands them out, one per running experiment), and each
slot owns a fixed, disjoint share of the machine: slot i gets GPUs [i*k, (i+1)*k) of the GPU list and,
when `run.cpus_per_experiment` is set, its own CPUs. Two experiments running at once therefore never
share a device. When the machine has fewer devices than `workers` times the request, the number of
workers is lowered and the plan says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from autoresearch.spec import RunSection

# Sets the CPU affinity, then becomes the command: no fork, so timeouts and kills reach the command.
_AFFINITY = (
    "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); os.execvp(sys.argv[2], sys.argv[2:])"
)


class ResourceError(Exception):
    """The spec asks for devices this machine does not have; the message says what to change."""


@dataclass(frozen=True)
class Slot:
    """The devices one running experiment may use."""

    gpus: tuple[str, ...] = ()
    cpus: tuple[int, ...] = ()

    def env(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)} if self.gpus else {}

    def preexec(self) -> list[str]:
        """An argv prefix that pins the command to this slot's CPUs (none when not asked)."""
        if not self.cpus:
            return []
        cpus = ",".join(map(str, self.cpus))
        if shutil.which("taskset"):
            return ["taskset", "-c", cpus]
        return [sys.executable, "-c", _AFFINITY, cpus]


@dataclass
class SlotPlan:
    workers: int
    slots: dict[int, Slot] = field(default_factory=dict)
    note: str = ""  # why the number of workers was lowered, for the user


def detect_gpus() -> list[str]:
    """GPU indices from `nvidia-smi`; none when it is missing or fails (no GPU, no driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def plan_slots(run: RunSection, workers: int) -> SlotPlan:
    """Disjoint devices for up to WORKERS concurrent experiments, lowering WORKERS when they do not fit."""
    if run.executor == "ray":  # Ray places tasks and sets CUDA_VISIBLE_DEVICES on the node itself
        return SlotPlan(workers, {i: Slot() for i in range(workers)})
    notes = []
    gpus: list[str] = []
    if run.gpus:
        gpus = [str(g) for g in run.gpu_ids] if run.gpu_ids is not None else detect_gpus()
        if len(gpus) < run.gpus:
            where = "run.gpu_ids lists" if run.gpu_ids is not None else "nvidia-smi found"
            raise ResourceError(
                f"run.gpus = {run.gpus} per experiment, but {where} {len(gpus)} GPU(s); "
                "lower run.gpus or list the GPUs in run.gpu_ids"
            )
        if workers * run.gpus > len(gpus):
            fit = len(gpus) // run.gpus
            notes.append(
                f"{workers} workers x {run.gpus} GPU(s) need {workers * run.gpus} GPUs but {len(gpus)} are "
                f"available ({','.join(gpus)}): running {fit} experiment(s) at once"
            )
            workers = fit
    cpus: list[int] = []
    if run.cpus_per_experiment:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < run.cpus_per_experiment:
            raise ResourceError(
                f"run.cpus_per_experiment = {run.cpus_per_experiment}, but this process may use "
                f"{len(cpus)} CPU(s); lower it"
            )
        if workers * run.cpus_per_experiment > len(cpus):
            fit = len(cpus) // run.cpus_per_experiment
            notes.append(
                f"{workers} workers x {run.cpus_per_experiment} CPU(s) need {workers * run.cpus_per_experiment} "
                f"CPUs but {len(cpus)} are available: running {fit} experiment(s) at once"
            )
            workers = fit
    slots = {
        i: Slot(
            gpus=tuple(gpus[i * run.gpus : (i + 1) * run.gpus]),
            cpus=tuple(cpus[i * (run.cpus_per_experiment or 0) : (i + 1) * (run.cpus_per_experiment or 0)]),
        )
        for i in range(workers)
    }
    return SlotPlan(workers, slots, "; ".join(notes))
