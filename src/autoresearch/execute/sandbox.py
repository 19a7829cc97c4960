"""The sandbox an experiment command runs in: resource limits, no network, a read-only filesystem.

Everything is an argv prefix put in front of the command by autoresearch (see `run_command`'s
`preexec`), outside anything the candidate controls; the timeout is enforced from outside too.

- limits: util-linux `prlimit` sets RLIMIT_AS / CPU / NPROC / FSIZE and execs the command (no Python
  `preexec_fn`, which is unsafe in a threaded process). RLIMIT_NPROC counts all processes of the user
  and Linux does not enforce it for root: as root `processes` is reported as not enforced.
- `network = false`: `unshare -n` (root) or `unshare -rn` (unprivileged, needs user namespaces): a new
  network namespace with only a loopback of its own, so nothing on the host or beyond is reachable.
- `kind = "bwrap"`: bubblewrap with the whole filesystem read-only except the run's folder (worktree or
  spec folder), its fresh output folder and a private /tmp. The study folder (store, logs, other
  experiments' worktrees), git's data and the scorer's/holdout's data are hidden (empty mounts over
  them); the spec file and protected files are read-only; its own PID namespace dies with the command,
  so no process it started outlives it and no ancestor's /proc/<pid>/environ is visible.
- `kind = "auto"` (the default): bwrap where it works here, else none, with a warning.

The same `View`-based prefix runs experiments, repeats, rechecks, guards, the holdout, the scorer and
script/agent proposers. What it opens for tools (interpreters named in commands, `sandbox.readable`,
per-run caches) is in `sandbox_defaults`; naming it when it makes a command fail, in `diagnose`.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autoresearch.execute import sandbox_defaults
from autoresearch.execute.hidden import hidden_paths
from autoresearch.execute.process import experiment_env
from autoresearch.materialise.git import hash_files
from autoresearch.spec import SandboxSection, Spec
from autoresearch.store.database import Store


class SandboxError(Exception):
    """The sandbox the spec asks for cannot be set up here; the message names the fix."""


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def limits_prefix(sandbox: SandboxSection) -> list[str]:
    """`prlimit --as=... --` for the limits the spec sets, or [] when none."""
    options = []
    if sandbox.memory is not None:
        options.append(f"--as={sandbox.memory}")
    if sandbox.cpu_time is not None:
        seconds = max(int(sandbox.cpu_time + 0.999), 1)
        options.append(f"--cpu={seconds}:{seconds + 1}")  # SIGXCPU at the soft limit, SIGKILL one s later
    if sandbox.processes is not None:
        options.append(f"--nproc={sandbox.processes}")
    if sandbox.file_size is not None:
        options.append(f"--fsize={sandbox.file_size}")
    if not options:
        return []
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise SandboxError(
            "sandbox limits (memory, cpu_time, processes, file_size) need `prlimit` from util-linux, "
            "which is not on PATH; install util-linux (apt-get install util-linux) or remove the limits"
        )
    return [prlimit, *options, "--"]


@functools.cache
def _unshare_argv() -> tuple[str, ...]:
    """The `unshare` invocation that gives a new network namespace here; raises if none works."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SandboxError(
            "sandbox.network = false needs `unshare` (util-linux), which is not on PATH; install util-linux "
            'or use sandbox.kind = "bwrap"'
        )
    candidates = [[unshare, "-n"]] if is_root() else [[unshare, "-rn"], [unshare, "-n"]]
    errors = []
    for argv in candidates:
        done = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return tuple(argv)
        errors.append(f"`{' '.join(argv)}`: {done.stderr.strip() or f'exit code {done.returncode}'}")
    raise SandboxError(
        "sandbox.network = false: cannot create a network namespace here ("
        + "; ".join(errors)
        + "). Run as root, allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 "
        "or kernel.apparmor_restrict_unprivileged_userns=0), or in a container give CAP_SYS_ADMIN"
    )


@functools.cache
def _bwrap() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError(
            'sandbox.kind = "bwrap" needs bubblewrap, which is not on PATH; install it '
            '(apt-get install bubblewrap, dnf install bubblewrap) or use kind = "none"'
        )
    done = subprocess.run(
        [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise SandboxError(
            f"bubblewrap cannot create a sandbox here: {done.stderr.strip()}; allow unprivileged user "
            'namespaces, run as root, or use sandbox.kind = "none"'
        )
    return bwrap


@functools.cache
def bwrap_usable() -> str | None:
    """Why bubblewrap cannot sandbox here, or None when it can (asked once per process)."""
    try:
        _bwrap()
    except SandboxError as exc:
        return str(exc)
    return None


def resolve_kind(spec: Spec) -> Literal["bwrap", "none"]:
    """The kind that runs: `auto` is bwrap where bubblewrap works here, else none."""
    kind = spec.sandbox.kind
    if kind == "auto":
        return "bwrap" if bwrap_usable() is None else "none"
    return kind


NONE_WARNING = (
    'sandbox kind "none": experiments, guards, the holdout, the scorer and proposers run unisolated; they can '
    "read and write everything your user can (the store, the spec, hidden data); see docs/trust.md"
)


def recorded_warnings(store: Store) -> list[str]:
    """What `status` and the report must say about how the study's runs were isolated."""
    return [NONE_WARNING] if store.get_meta("sandbox") == "none" else []


def check(spec: Spec) -> list[str]:
    """Fail early (before the baseline) if the sandbox cannot work here; returns warnings."""
    sandbox = spec.sandbox
    limits_prefix(sandbox)
    kind = resolve_kind(spec)
    if kind == "bwrap":
        _bwrap()
        refused = sandbox_defaults.refused_path(spec)
        if refused is not None:
            raise SandboxError(refused)
    elif not sandbox.network:
        _unshare_argv()
    warnings = []
    if kind == "none":
        why = f" (bubblewrap: {bwrap_usable()})" if sandbox.kind == "auto" else ""
        warnings.append(NONE_WARNING + why)
        hidden = _data(spec)
        if hidden:
            warnings.append(
                f"scorer/holdout data ({', '.join(hidden)}) is hidden from candidates only under bwrap; with "
                'kind "none" a candidate can read it'
            )
    if sandbox.processes is not None and is_root():
        warnings.append(
            "sandbox.processes is not enforced: Linux ignores RLIMIT_NPROC for root; run autoresearch as "
            "another user for a process limit"
        )
    return warnings


@dataclass(frozen=True)
class View:
    """What one sandboxed process sees of the filesystem (under bwrap; kind none sees everything).

    ROOT is its working folder, writable unless READ_ONLY_ROOT; WRITABLE are more folders it may write
    (its fresh output folder); READABLE are paths inside hidden places shown read-only (a params file,
    the outputs a scorer reads); REVEAL are spec-relative hidden data paths it may read (the scorer's).
    """

    root: Path
    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    reveal: tuple[str, ...] = ()
    read_only_root: bool = False
    network: bool | None = None  # None: the spec's sandbox.network


def prefix(spec: Spec, view: View) -> list[str]:
    """The argv prefix that runs a command in the spec's sandbox with VIEW of the filesystem."""
    sandbox = spec.sandbox
    network = sandbox.network if view.network is None else view.network
    argv: list[str] = []
    if resolve_kind(spec) == "bwrap":
        argv += _bwrap_argv(spec, view, network)
    elif not network:
        argv += list(_unshare_argv())
    return argv + limits_prefix(sandbox)


def env_overrides(spec: Spec) -> dict[str, str]:
    """Variables the sandbox sets: under bwrap only the private /tmp is writable scratch space, and the
    caches tools write go there unless the user chose otherwise (sandbox_defaults)."""
    if resolve_kind(spec) != "bwrap":
        return {}
    return {"TMPDIR": "/tmp", **sandbox_defaults.cache_env(spec)}


ACCELERATORS = ("/dev/nvidia*", "/dev/dri", "/dev/kfd")


def _data(spec: Spec) -> list[str]:
    holdout = [*spec.holdout.data, *spec.holdout.scorer_data] if spec.holdout else []
    return [*(spec.scorer.data if spec.scorer else []), *holdout]


def _hide(path: Path) -> list[str]:
    """Cover PATH where it really is: a link is resolved (hiding its target hides every link to it)."""
    real = Path(os.path.realpath(path))
    if not real.exists() or real == Path("/"):
        return []
    if real.is_dir():
        return ["--tmpfs", str(real)]
    return ["--ro-bind", "/dev/null", str(real)]


def _hide_data(path: Path, inside: Path) -> list[str]:
    """Hide the data at PATH and, for a file with more than one name, its other names in INSIDE (a
    hard link there is the same file under a path no hiding covers)."""
    argv = _hide(path)
    for other in _other_names(os.path.realpath(path), str(inside)):
        argv += ["--ro-bind", "/dev/null", other]
    return argv


@functools.cache
def _other_names(real: str, inside: str) -> tuple[str, ...]:
    """The names in INSIDE of hard-linked files of the data at REAL, found once per process: a
    sandboxed run cannot add one (hidden data is out of its reach), so they are the user's own."""
    top = Path(real)
    files = [top] if top.is_file() else (p for p in top.rglob("*") if p.is_file() and not p.is_symlink())
    inodes = set()
    for file in files:
        info = file.stat()
        if info.st_nlink > 1:
            inodes.add((info.st_dev, info.st_ino))
    found: list[str] = []
    if not inodes:
        return ()
    for folder, dirs, names in os.walk(inside):
        dirs[:] = [d for d in dirs if d not in (".git", ".autoresearch")]
        for name in names:
            other = Path(folder, name)
            with contextlib.suppress(OSError):
                info = other.lstat()
                outside = other != top and top not in other.parents  # not the data itself
                if (info.st_dev, info.st_ino) in inodes and outside:
                    found.append(str(other))
    return tuple(found)


@functools.cache
def _python_under_tmp() -> tuple[Path, ...]:
    """The folders under /tmp that the Python running autoresearch imports from: its prefixes and its
    import path, which holds an editable install's source folder (a CI clone in /tmp, for one). The
    current folder, which `python -m` puts first on the path, is left out: it may be anything."""
    here = Path.cwd().resolve()
    entries = [Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[2]]
    entries += [Path(p) for p in sys.path if p and os.path.isabs(p)]
    found = {e.resolve() for e in entries if e.is_dir()} - {here}
    under = [f for f in found if Path("/tmp") in f.parents]
    return tuple(sorted(f for f in under if not any(other in f.parents for other in under)))


def _bwrap_argv(spec: Spec, view: View, network: bool) -> list[str]:
    root = view.root.resolve()
    argv = [_bwrap(), "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--new-session"]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # A minimal /dev, plus the accelerators (NVIDIA, DRM render nodes, AMD's kfd): no disks, no consoles.
    for pattern in ACCELERATORS:
        for device in sorted(glob.glob(pattern)):
            argv += ["--dev-bind", device, device]
    # The private /tmp must not hide the Python running autoresearch ({python}) when it lives there.
    for folder in _python_under_tmp():
        argv += ["--ro-bind", str(folder), str(folder)]
    # Interpreters the commands name and `sandbox.readable`, before the hiding mounts below.
    for path in sandbox_defaults.readable_folders(spec):
        argv += ["--ro-bind-try", str(path), str(path)]
    if not network:
        argv.append("--unshare-net")
    bind_root = ["--ro-bind" if view.read_only_root else "--bind", str(root), str(root)]
    hidden = hidden_paths(spec)
    data = [rel for rel in _data(spec) if rel not in view.reveal]
    argv += bind_root
    # Mounted over the root's bind, so hidden places inside the run's folder stay hidden.
    for folder in hidden:
        argv += _hide(folder)
    for rel in data:
        argv += _hide_data(spec.root.resolve() / rel, spec.root.resolve())
    if any(folder == root or folder in root.parents for folder in hidden):  # a worktree in .autoresearch
        # The rest of the worktree (the spec in a subfolder of the repository) stays readable.
        top = next((f for f in [root, *root.parents] if (f / ".git").is_file()), root)
        if top != root:
            argv += ["--ro-bind", str(top), str(top)]
        argv += bind_root
    for rel in data:
        if root != spec.root.resolve():
            argv += _hide_data(root / rel, root)
    if not view.read_only_root:
        # Protected files and the spec stay read-only inside the writable root.
        protected = [*spec.integrity.protected, *(spec.code.protected if spec.code else [])]
        for rel in sorted(hash_files(root, protected)) if protected else []:
            path = root / rel
            if path.exists() and not path.is_symlink():
                argv += ["--ro-bind", str(path), str(path)]
        for spec_file in ("autoresearch.toml", "pyproject.toml"):
            path = root / spec_file
            if path.is_file() and not path.is_symlink():
                argv += ["--ro-bind", str(path), str(path)]
    for path in view.readable:
        argv += ["--ro-bind", str(path.resolve()), str(path.resolve())]
    for folder in (*view.writable, *_extra_writable(spec)):
        argv += ["--bind", str(folder.resolve()), str(folder.resolve())]
    return argv


def _extra_writable(spec: Spec) -> list[Path]:
    """`sandbox.writable`: folders the user lets every sandboxed process write (a compiler cache); made if missing."""
    folders = []
    for text in spec.sandbox.writable:
        folder = Path(os.path.expanduser(text))
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder)
    return folders


def proposer_view(spec: Spec, root: Path, writable: tuple[Path, ...], readable: tuple[Path, ...] = ()) -> View:
    """The view of a script or agent proposer: the experiments' view, with [proposer] options
    `network` (an agent's API) and `writable` (e.g. its config folder in HOME) as the only widenings."""
    options = spec.proposer.options
    network = options.get("network")
    extra = tuple(Path(os.path.expanduser(str(p))) for p in options.get("writable", []))
    return View(
        root,
        writable=writable + extra,
        readable=readable,
        read_only_root=spec.mode == "code" and root.resolve() == spec.root.resolve(),
        network=bool(network) if network is not None else None,
    )


def proposer_env(spec: Spec, extra: dict[str, str]) -> dict[str, str]:
    """The allowlisted environment plus `run.pass_env` and `[proposer] options.pass_env` (an agent's API key)."""
    allow = [*spec.run.pass_env, *map(str, spec.proposer.options.get("pass_env", []))]
    return experiment_env(os.environ, extra={**extra, **env_overrides(spec)}, allow=allow)
