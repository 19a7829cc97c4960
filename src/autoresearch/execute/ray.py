"""`run.executor = "ray"`: each experiment runs as a Ray task; the loop, store and proposer stay here.

The candidate is materialised here as usual (params file values, or a git worktree with the edits
applied), then the folder it runs in is packed as a small tar.gz and shipped with the task: the spec
folder once per study (params mode, cached in Ray's object store) or the worktree at each experiment
(code mode). On the node the task unpacks it in a temporary folder and runs the very same
`CommandEvaluator.run_here` (command, timeout, guards, metric parsing), checks the protected files,
and returns the evaluation and the logs, which are written into the local experiment folder.

The coordinator's own `autoresearch` package is shipped to the workers (`py_modules`), so nodes only
need Ray and autoresearch's dependencies. A worker or node lost mid-experiment makes Ray run the task
again (`max_retries`, bounded); the experiment keeps its id and row. An experiment's processes never
outlive the worker that started them: a small reaper process per worker kills them when it dies.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute.evaluate import CommandEvaluator, Runner, RunningProcesses
from autoresearch.execute.resources import Slot
from autoresearch.spec import ResourcesSection, Spec

# How many times Ray re-runs an experiment whose worker or node died (not when the command fails).
MAX_RETRIES = 3
# Never shipped: the study's own files, VCS data, caches and virtual environments.
SKIP = frozenset(
    {".autoresearch", ".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"}
)
MAX_SHIP_BYTES = 200 * 1024**2  # Ray's object store is no file system; ship code and small data only
# A local cluster (no ray_address) is kept small: it shares the machine with the coordinator.
LOCAL_OBJECT_STORE = 128 * 1024**2


class RayExecutorError(Exception):
    """Ray is missing or unreachable, or what would be shipped is too big; the message says what to do."""


def import_ray() -> Any:
    try:
        import ray  # optional and heavy: only for run.executor = "ray"
    except ImportError:
        raise RayExecutorError(
            'run.executor = "ray" needs Ray: pip install "autoresearch[ray]" (or pip install "ray[default]")'
        ) from None
    return ray


# -- shipping files --------------------------------------------------------------------------------


def pack(root: Path) -> bytes:
    """ROOT's files as a tar.gz, without SKIP folders; RayExecutorError when it is too big."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP)
            for name in sorted(files):
                path = Path(directory) / name
                if name in SKIP or not (path.is_file() or path.is_symlink()):
                    continue
                total += path.lstat().st_size
                if total > MAX_SHIP_BYTES:
                    raise RayExecutorError(
                        f"{root} holds more than {MAX_SHIP_BYTES // 1024**2} MB to ship to Ray workers; move "
                        "data out of the spec folder (read it from shared storage by absolute path)"
                    )
                tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack(archive: bytes, root: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse links and paths leaving ROOT
            tar.extractall(root, filter="data")
        else:  # we packed it ourselves, from the spec folder
            tar.extractall(root)


# -- on the node -----------------------------------------------------------------------------------

# One reaper per worker process: it learns the process groups (and temporary folders) of running
# experiments on stdin and, when stdin closes because the worker died, kills and removes them.
_REAPER = r"""
import os, shutil, signal, sys
alive = {}
for line in sys.stdin:
    op, pgid, folder = line.rstrip("\n").split(" ", 2)
    if op == "+":
        alive[int(pgid)] = folder
    else:
        alive.pop(int(pgid), None)
for pgid, folder in alive.items():
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
"""
_reaper: subprocess.Popen[str] | None = None
_reaper_lock = threading.Lock()


def _tell_reaper(line: str) -> None:
    global _reaper
    with _reaper_lock:
        if _reaper is None or _reaper.poll() is not None:
            _reaper = subprocess.Popen(
                [sys.executable, "-c", _REAPER], stdin=subprocess.PIPE, text=True, start_new_session=True
            )
        assert _reaper.stdin is not None
        _reaper.stdin.write(line + "\n")
        _reaper.stdin.flush()


class _ReapedProcesses(RunningProcesses):
    """Running process groups, also told to the worker's reaper."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def add(self, pgid: int) -> None:
        super().add(pgid)
        _tell_reaper(f"+ {pgid} {self.folder}")

    def discard(self, pgid: int) -> None:
        super().discard(pgid)
        _tell_reaper(f"- {pgid} {self.folder}")


class _NodeEvaluator(CommandEvaluator):
    """Runs the shipped candidate on the node (a LocalRunner there); in code mode every repeat and guard
    gets it afresh."""

    def __init__(self, spec: Spec, archive: bytes) -> None:
        super().__init__(spec)
        self.archive = archive

    def fresh_root(self, experiment: Experiment, root: Path) -> Path:
        if self.spec.mode != "code":
            return root
        shutil.rmtree(root)  # fd-based: links the run planted are removed, never followed
        unpack(self.archive, root)  # the clean checkout the coordinator shipped, nothing the run left
        return root


def run_on_node(
    spec: Spec, archive: bytes, experiment: Experiment, proposal: Proposal, seed_offset: int, repeats: int | None
) -> dict[str, Any]:
    """The Ray task: run the candidate shipped in ARCHIVE; the evaluation and the logs come back.

    `run_here` hashes the protected files around the run and runs the guards, there on the node.
    """
    folder = Path(tempfile.mkdtemp(prefix="autoresearch-"))
    try:
        root = folder / "root"
        unpack(archive, root)
        evaluator = _NodeEvaluator(spec.model_copy(update={"root": root}), archive)
        evaluator.running = _ReapedProcesses(folder)
        # Ray set CUDA_VISIBLE_DEVICES; a share of a GPU is also told its memory share, as locally.
        request = spec.run.resources.gpus if spec.run.resources is not None else spec.run.gpus
        evaluator.devices = {0: Slot(memory_fraction=request)} if 0 < request < 1 else {}
        evaluation = evaluator.run_here(
            root, experiment, proposal, seed_offset=seed_offset, repeats=repeats, slot=0 if evaluator.devices else None
        )
        log_dir = evaluator.log_dir(experiment)
        logs = (
            {p.name: p.read_bytes() for p in log_dir.iterdir() if p.is_file() and not p.is_symlink()}
            if log_dir.is_dir()
            else {}
        )
        return {"evaluation": evaluation, "logs": logs, "node": socket.gethostname(), "pid": os.getpid()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- here, on the coordinator ----------------------------------------------------------------------

_connected: str | None = None  # the address this process is connected to ("" for its own local cluster)
_connect_lock = threading.Lock()


def connect(address: str, *, num_cpus: int, custom: dict[str, float]) -> None:
    """Connect to the cluster at ADDRESS, or start a small local one when ADDRESS is empty."""
    global _connected
    ray = import_ray()
    with _connect_lock:
        if ray.is_initialized() and _connected == address:
            return
        if ray.is_initialized():
            ray.shutdown()
        package = str(Path(__file__).parent.parent)  # this autoresearch, whatever the nodes have
        options: dict[str, Any] = {
            "runtime_env": {"py_modules": [package]},
            "logging_level": logging.WARNING,
            "log_to_driver": False,  # each experiment's output is in its own logs
            "configure_logging": False,
        }
        try:
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(
                    num_cpus=num_cpus,
                    resources=custom or None,
                    object_store_memory=LOCAL_OBJECT_STORE,
                    include_dashboard=False,
                    **options,
                )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayExecutorError(
                f"could not connect to Ray at {address or 'a new local cluster'}: {exc}; check run.ray_address "
                '("auto" for the cluster started with `ray start` on this machine, or "ray://host:10001")'
            ) from None
        _connected = address


_task: Any = None


def _remote_task() -> Any:
    """`run_on_node` as a Ray remote function, made once (Ray exports each one it is given)."""
    global _task
    with _connect_lock:
        if _task is None:
            _task = import_ray().remote(run_on_node)
        return _task


class RayRunner(Runner):
    """Runs a candidate materialised here (params or code) as a Ray task: its folder is shipped, the
    node runs `run_here` on it, and the evaluation and logs come back."""

    def __init__(self, spec: Spec) -> None:
        import_ray()  # fail before the study starts when Ray is missing
        self.spec = spec
        self.request = spec.run.resources or ResourcesSection(
            cpus=spec.run.cpus_per_experiment or 1, gpus=spec.run.gpus
        )
        self.workers = spec.run.workers
        self._refs: set[Any] = set()
        self._refs_lock = threading.Lock()
        self._spec_folder: Any = None  # the packed spec folder in Ray's object store (params mode)

    def use_slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        self.workers = max(len(slots), 1)  # Ray places experiments itself; only the count matters here
        return {}  # no local devices: a task gets what Ray assigns it

    def prime(self, evaluator: CommandEvaluator) -> None:
        # Connect from the main thread, before any experiment; a local cluster fits `workers` at once.
        connect(
            self.spec.run.ray_address.strip(),
            num_cpus=max(os.cpu_count() or 1, math.ceil(self.workers * self.request.cpus)),
            custom={k: v * self.workers for k, v in self.request.custom.items()},
        )

    def _archive(self, root: Path) -> Any:
        ray = import_ray()
        if root != self.spec.root:  # a code-mode worktree: its files change with every candidate
            return ray.put(pack(root))
        with self._refs_lock:
            if self._spec_folder is None:
                self._spec_folder = ray.put(pack(root))
            return self._spec_folder

    def run(
        self,
        evaluator: CommandEvaluator,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        *,
        log_dir: Path | None,
        seed_offset: int,
        repeats: int | None,
        slot: int | None,
    ) -> Evaluation:
        """Run on the cluster; Ray places it, so SLOT's local devices do not apply."""
        ray = import_ray()
        options: dict[str, Any] = {
            "num_cpus": self.request.cpus,
            "num_gpus": self.request.gpus,
            "max_retries": MAX_RETRIES,  # re-run on a lost worker or node; a failing command is not retried
            "name": f"autoresearch:{self.spec.name}#{experiment.id}",
        }
        if self.request.memory:
            options["memory"] = self.request.memory
        if self.request.custom:
            options["resources"] = dict(self.request.custom)
        task = _remote_task().options(**options)
        ref = task.remote(self.spec, self._archive(root), experiment, proposal, seed_offset, repeats)
        with self._refs_lock:
            self._refs.add(ref)
        try:
            result = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return Evaluation(error="cancelled")
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Evaluation(error=f"the Ray task failed ({type(exc).__name__}): {first}")
        finally:
            with self._refs_lock:
                self._refs.discard(ref)
        log_dir = log_dir or evaluator.log_dir(experiment)
        for name, data in result["logs"].items():
            safeio.write_bytes(log_dir / Path(name).name, data, evaluator.anchor)
        evaluation: Evaluation = result["evaluation"]
        evaluation.extra["ray_node"] = result["node"]
        return evaluation

    def cancel_all(self) -> None:
        ray = import_ray()
        with self._refs_lock:
            refs = list(self._refs)
        for ref in refs:
            with contextlib.suppress(Exception):  # already finished, or the cluster is gone
                ray.cancel(ref, force=True)
