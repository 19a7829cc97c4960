"""`run.executor = "ray"`: each job runs as a Ray task; the loop, store and proposer stay here.

The candidate is materialised here as usual (a params file, or a git worktree with the edits applied)
and each job (a run, a guard, the scorer...) is shipped with what it sees: the folder it runs in as a
small tar.gz (the spec folder once per study, cached in Ray's object store, or the worktree at each
job in code mode) and the files its view reads (the params file). On the node the task unpacks them in
a temporary folder, rewrites the job's paths to that folder, and runs it as the local executor would
(sandbox, timeout, capped logs, every process reaped). Its logs, its output folder and the files the
evaluator reads (a metrics JSON) come back to their places here, with the protected files' hashes
taken there, so the evaluator reads the result as it reads a local run's.

The coordinator's own `autoresearch` package is shipped to the workers (`py_modules`), so nodes only
need Ray and autoresearch's dependencies. A worker or node lost mid-job makes Ray run the task again
(`max_retries`, bounded); the experiment keeps its id and row. A job's processes never outlive the
worker that started them: a small reaper process per worker kills them when it dies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute import integrity, sandbox
from autoresearch.execute.executor import Executor, ExecutorError, Job, JobResult
from autoresearch.execute.local import RunningProcesses, run_here
from autoresearch.execute.resources import Slot
from autoresearch.spec import ResourcesSection, Spec

# How many times Ray re-runs a job whose worker or node died (not when the command fails).
MAX_RETRIES = 3
# Never shipped: the study's own files, VCS data, caches and virtual environments.
SKIP = frozenset(
    {".autoresearch", ".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"}
)
MAX_SHIP_BYTES = 200 * 1024**2  # Ray's object store is no file system; ship code and small data only
# A local cluster (no ray_address) is kept small: it shares the machine with the coordinator.
LOCAL_OBJECT_STORE = 128 * 1024**2


class RayExecutorError(ExecutorError):
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
    """ROOT's files (or ROOT itself, a file) as a tar.gz, without SKIP folders; RayExecutorError when it
    is too big."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        if root.is_file():
            tar.add(root, arcname=root.name, recursive=False)
        for directory, dirs, files in os.walk(root):  # nothing when ROOT is a file
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


def regular_files(folder: Path, limit: int = MAX_SHIP_BYTES) -> dict[str, bytes]:
    """FOLDER's regular files (no links, FIFOs or devices) by relative path, up to LIMIT bytes in all."""
    found: dict[str, bytes] = {}
    total = 0
    for directory, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or total + info.st_size > limit:
                continue
            total += info.st_size
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


# -- a job's paths, here and on the node -----------------------------------------------------------


class Relocation:
    """Where each path of a job is on the node: below its folder's `root/` when under the job's root
    (the shipped folder), else below `outside/` at its absolute path."""

    def __init__(self, job: Job, folder: Path, here_python: str) -> None:
        self.root, self.folder = job.view.root, folder
        places = {job.view.root, job.anchor, job.cwd, job.stdout.parent, job.stderr.parent}
        places |= set(job.view.readable) | set(job.view.writable) | {p.parent for p in job.read_back}
        moves = {str(place): str(self.path(place)) for place in places}
        if here_python != sys.executable:  # {python}: the node's own interpreter
            moves[here_python] = sys.executable
        # Longest first, and only whole path components: /a/b moves before /a, and /a never matches /ab.
        ordered = sorted(moves, key=len, reverse=True)
        self.moves = moves
        self.pattern = re.compile("|".join(re.escape(p) + r"(?![^/\s'\";:,)}\]])" for p in ordered))

    def path(self, path: Path) -> Path:
        if path == self.root or self.root in path.parents:
            return self.folder / "root" / path.relative_to(self.root)
        return self.folder / "outside" / path.relative_to(path.anchor)

    def text(self, text: str) -> str:
        return self.pattern.sub(lambda match: self.moves[match.group(0)], text)

    def job(self, job: Job, spec: Spec) -> Job:
        """JOB with its paths on the node, sandboxed there (its sandbox prefix is made on the node)."""
        view = dataclasses.replace(
            job.view,
            root=self.path(job.view.root),
            writable=tuple(map(self.path, job.view.writable)),
            readable=tuple(map(self.path, job.view.readable)),
        )
        watch = None
        if job.watch is not None:
            watch = type(job.watch)(self.path(job.watch.path), job.watch.pruner)
        return dataclasses.replace(
            job,
            command=self.text(job.command),
            cwd=self.path(job.cwd),
            env={name: self.text(value) for name, value in job.env.items()},  # the rest is the node's own
            stdout=self.path(job.stdout),
            stderr=self.path(job.stderr),
            anchor=self.folder,
            sandbox=tuple(sandbox.prefix(spec.model_copy(update={"root": view.root}), view)),
            view=view,
            read_back=tuple(map(self.path, job.read_back)),
            watch=watch,
        )


# -- on the node -----------------------------------------------------------------------------------

# One reaper per worker process: it learns the process groups (and temporary folders) of running
# jobs on stdin and, when stdin closes because the worker died, kills and removes them.
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


def run_on_node(
    spec: Spec, job: Job, archive: bytes, readable: dict[str, tuple[bool, bytes]], here_python: str
) -> dict[str, Any]:
    """The Ray task: unpack the job's folder (ARCHIVE) and the paths it reads (READABLE: by its path here,
    whether it is a file, and its tar.gz), run it there, and hand back its logs, the files it wrote in its
    writable folders and the files the evaluator reads back."""
    folder = Path(tempfile.mkdtemp(prefix="autoresearch-"))
    try:
        moved = Relocation(job, folder, here_python)
        unpack(archive, moved.path(job.view.root))
        for path, (is_file, packed) in readable.items():
            target = moved.path(Path(path))
            unpack(packed, target.parent if is_file else target)
        for place in (*job.view.writable, job.stdout.parent, job.stderr.parent):
            moved.path(place).mkdir(parents=True, exist_ok=True)
        there = moved.job(job, spec)
        result = run_here(there, _ReapedProcesses(folder))
        hashes = integrity.protected_hashes(there.view.root, list(job.protected)) if job.protected else None
        written = {str(place): regular_files(moved.path(place)) for place in job.view.writable}
        read_back = {}
        for wanted in job.read_back:
            with contextlib.suppress(OSError, safeio.UnsafePath):
                read_back[str(wanted)] = safeio.read_bytes(moved.path(wanted), folder, limit=spec.run.max_log_size)
        logs = {"out": safeio.read_bytes(there.stdout, folder), "err": safeio.read_bytes(there.stderr, folder)}
        return {
            "result": result,
            "logs": logs,
            "written": written,
            "read_back": read_back,
            "hashes": hashes,
            "node": socket.gethostname(),
        }
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


class RayExecutor(Executor):
    """Runs each job as a Ray task on a copy of what it sees; Ray places it on the cluster."""

    def __init__(self, spec: Spec) -> None:
        import_ray()  # fail before the study starts when Ray is missing
        super().__init__(spec)
        self.request = spec.run.resources or ResourcesSection(
            cpus=spec.run.cpus_per_experiment or 1, gpus=spec.run.gpus
        )
        self.workers = spec.run.workers
        self._refs: set[Any] = set()
        self._refs_lock = threading.Lock()
        self._spec_folder: Any = None  # the packed spec folder in Ray's object store (params mode)

    def slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        # Ray places tasks and sets CUDA_VISIBLE_DEVICES itself; only how many run at once matters here,
        # and a share of a GPU is told its memory share, as locally.
        self.workers = max(len(slots), 1)
        share = self.request.gpus if 0 < self.request.gpus < 1 else None
        return {i: Slot(memory_fraction=share) for i in slots}

    def prime(self) -> None:
        # Connect from the main thread, before any job; a local cluster fits `workers` at once.
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

    def run(self, job: Job) -> JobResult:
        ray = import_ray()
        options: dict[str, Any] = {
            "num_cpus": self.request.cpus,
            "num_gpus": self.request.gpus,
            "max_retries": MAX_RETRIES,  # re-run on a lost worker or node; a failing command is not retried
            "name": f"autoresearch:{job.label}",
        }
        if self.request.memory:
            options["memory"] = self.request.memory
        if self.request.custom:
            options["resources"] = dict(self.request.custom)
        readable = {str(p): (p.is_file(), pack(p)) for p in job.view.readable if p != job.view.root}
        task = _remote_task().options(**options)
        ref = task.remote(self.spec, job, self._archive(job.view.root), readable, sys.executable)
        with self._refs_lock:
            self._refs.add(ref)
        try:
            shipped = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return self._failed(job, "cancelled", "cancelled")
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return self._failed(job, f"the Ray task failed ({type(exc).__name__}): {first}", "lost")
        finally:
            with self._refs_lock:
                self._refs.discard(ref)
        return self._received(job, shipped)

    def _received(self, job: Job, shipped: dict[str, Any]) -> JobResult:
        """The node's result, its files written to their places here (never following a planted link)."""
        safeio.write_bytes(job.stdout, shipped["logs"]["out"], job.anchor)
        safeio.write_bytes(job.stderr, shipped["logs"]["err"], job.anchor)
        for place, files in shipped["written"].items():
            for name, data in files.items():
                safeio.write_bytes(Path(place) / name, data, job.anchor)
        for path, data in shipped["read_back"].items():
            safeio.write_bytes(Path(path), data, job.anchor)
        result: JobResult = shipped["result"]
        return dataclasses.replace(
            result,
            stdout_path=job.stdout,
            stderr_path=job.stderr,
            where={"ray_node": shipped["node"]},
            hashes=shipped["hashes"],
        )

    @staticmethod
    def _failed(job: Job, error: str, ending: Any) -> JobResult:
        for path in (job.stdout, job.stderr):
            with contextlib.suppress(OSError, safeio.UnsafePath):
                safeio.write_bytes(path, b"", job.anchor)
        return JobResult(None, False, 0.0, job.stdout, job.stderr, False, error=error, ending=ending)

    def cancel_all(self) -> None:
        ray = import_ray()
        with self._refs_lock:
            refs = list(self._refs)
        for ref in refs:
            with contextlib.suppress(Exception):  # already finished, or the cluster is gone
                ray.cancel(ref, force=True)
