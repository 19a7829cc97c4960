"""Per-experiment devices on one machine: disjoint GPUs (CUDA_VISIBLE_DEVICES) and CPUs (affinity).

Each running experiment holds a slot (the loop hands them out, one per running experiment), and each
slot owns a fixed, disjoint share of the machine: slot i gets GPUs [i*k, (i+1)*k) of the GPU list and,
when `run.cpus_per_experiment` is set, its own CPUs. Two experiments running at once therefore never
share a device. When the machine has fewer devices than `workers` times the request, the number of
workers is lowered and the plan says so.

A fractional request, `run.gpus = 1/k`, is the one exception, asked for: up to k slots share a GPU
(dealt round-robin, so GPUs fill evenly), and each is told its memory share through
AUTORESEARCH_GPU_MEMORY_FRACTION (and AUTORESEARCH_GPU_MEMORY_MB when nvidia-smi reports the memory),
for the experiment to honour, e.g. with `torch.cuda.set_per_process_memory_fraction`.
"""

from __future__ import annotations

import math
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
    memory_fraction: float | None = None  # set when the GPU is shared with other experiments
    memory_mb: int | None = None  # that share of the GPU's memory, when nvidia-smi reports it

    def env(self) -> dict[str, str]:
        env = {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)} if self.gpus else {}
        if self.memory_fraction is not None:
            env["AUTORESEARCH_GPU_MEMORY_FRACTION"] = repr(self.memory_fraction)
        if self.memory_mb is not None:
            env["AUTORESEARCH_GPU_MEMORY_MB"] = str(self.memory_mb)
        return env

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


@dataclass(frozen=True)
class Gpu:
    index: str
    memory_mb: int | None  # total memory in MiB; None when unknown


def detect_gpus() -> list[Gpu]:
    """GPUs from `nvidia-smi`; none when it is missing or fails (no GPU, no driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        index, _, memory = (part.strip() for part in line.partition(","))
        if index:
            gpus.append(Gpu(index, int(memory) if memory.isdigit() else None))  # "[N/A]" on some boards
    return gpus


def _gpus(run: RunSection) -> list[Gpu]:
    """The GPUs experiments may use: run.gpu_ids (with their memory where nvidia-smi knows them), or all."""
    if run.gpu_ids is None:
        return detect_gpus()
    memory = {gpu.index: gpu.memory_mb for gpu in detect_gpus()} if run.gpus < 1 else {}
    return [Gpu(str(g), memory.get(str(g))) for g in run.gpu_ids]


def _shared_gpu_slots(run: RunSection, gpus: list[Gpu], workers: int) -> tuple[list[Slot], str]:
    """Slots for `run.gpus = 1/k`: up to k per GPU, dealt round-robin so that GPUs fill evenly."""
    share = round(1 / run.gpus)
    note = ""
    if workers > len(gpus) * share:
        fit = len(gpus) * share
        note = (
            f"{workers} workers x {run.gpus:g} GPU need {math.ceil(workers / share)} GPUs but {len(gpus)} are "
            f"available ({','.join(g.index for g in gpus)}): running {fit} experiment(s) at once"
        )
        workers = fit
    slots = []
    for i in range(workers):
        gpu = gpus[i % len(gpus)]
        memory_mb = int(gpu.memory_mb * run.gpus) if gpu.memory_mb is not None else None
        slots.append(Slot(gpus=(gpu.index,), memory_fraction=run.gpus, memory_mb=memory_mb))
    return slots, note


def plan_slots(run: RunSection, workers: int) -> SlotPlan:
    """Disjoint devices for up to WORKERS concurrent experiments, lowering WORKERS when they do not fit."""
    if run.executor != "local":  # a cluster (Ray, Slurm) places jobs and sets CUDA_VISIBLE_DEVICES on the node
        return SlotPlan(workers, {i: Slot() for i in range(workers)})
    notes = []
    gpus: list[str] = []
    gpu_slots: list[Slot] = []
    per_experiment = math.ceil(run.gpus)  # GPUs each slot holds: 1 for a share of one
    if run.gpus:
        found = _gpus(run)
        gpus = [gpu.index for gpu in found]
        if len(gpus) < per_experiment:
            where = "run.gpu_ids lists" if run.gpu_ids is not None else "nvidia-smi found"
            raise ResourceError(
                f"run.gpus = {run.gpus:g} per experiment, but {where} {len(gpus)} GPU(s); "
                "lower run.gpus or list the GPUs in run.gpu_ids"
            )
        if run.gpus < 1:
            gpu_slots, note = _shared_gpu_slots(run, found, workers)
            workers = len(gpu_slots)
            notes += [note] if note else []
        elif workers * per_experiment > len(gpus):
            fit = len(gpus) // per_experiment
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
            gpus=tuple(gpus[i * per_experiment : (i + 1) * per_experiment]),
            cpus=tuple(cpus[i * (run.cpus_per_experiment or 0) : (i + 1) * (run.cpus_per_experiment or 0)]),
        )
        for i in range(workers)
    }
    for i, shared in enumerate(gpu_slots[:workers]):  # a share of a GPU: that GPU, told its memory share
        slots[i] = Slot(shared.gpus, slots[i].cpus, shared.memory_fraction, shared.memory_mb)
    return SlotPlan(workers, slots, "; ".join(notes))
