"""The sandbox an experiment command runs in: resource limits, no network, a read-only filesystem.

Everything is an argv prefix put in front of the command by autoresearch (see `run_command`'s
`preexec`), outside anything the candidate controls; the timeout is enforced from outside too.

- limits: util-linux `prlimit` sets RLIMIT_AS / CPU / NPROC / FSIZE and execs the command (no Python
  `preexec_fn`, which is unsafe in a threaded process). RLIMIT_NPROC counts all processes of the user
  and Linux does not enforce it for root: as root `processes` is reported as not enforced.
- `network = false`: `unshare -n` (root) or `unshare -rn` (unprivileged, needs user namespaces): a new
  network namespace with only a loopback of its own, so nothing on the host or beyond is reachable.
- `kind = "bwrap"`: bubblewrap with the whole filesystem read-only except the run's folder (worktree or
  spec folder), the experiment's log folder and a private /tmp; the study store, the spec file and
  protected files stay read-only; its own PID namespace dies with the command.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autoresearch.spec import SandboxSection, Spec


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


def check(spec: Spec) -> list[str]:
    """Fail early (before the baseline) if the sandbox cannot work here; returns warnings."""
    sandbox = spec.sandbox
    limits_prefix(sandbox)
    if sandbox.kind == "bwrap":
        _bwrap()
    elif not sandbox.network:
        _unshare_argv()
    warnings = []
    if sandbox.processes is not None and is_root():
        warnings.append(
            "sandbox.processes is not enforced: Linux ignores RLIMIT_NPROC for root; run autoresearch as "
            "another user for a process limit"
        )
    return warnings


def prefix(spec: Spec, root: Path, writable: list[Path]) -> list[str]:
    """The argv prefix that runs a command in the spec's sandbox with ROOT as the run's folder.

    WRITABLE: more folders the command must write (the experiment's log folder).
    """
    sandbox = spec.sandbox
    argv: list[str] = []
    if sandbox.kind == "bwrap":
        argv += _bwrap_argv(spec, root, writable)
    elif not sandbox.network:
        argv += list(_unshare_argv())
    return argv + limits_prefix(sandbox)


def _bwrap_argv(spec: Spec, root: Path, writable: list[Path]) -> list[str]:
    root = root.resolve()
    argv = [_bwrap(), "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/"]
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # The private /tmp must not hide the Python running autoresearch ({python}) when it lives there.
    for prefix in sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}):
        if Path("/tmp") in prefix.parents:
            argv += ["--ro-bind", str(prefix), str(prefix)]
    if not spec.sandbox.network:
        argv.append("--unshare-net")
    argv += ["--bind", str(root), str(root)]
    # The study's own files (store, other experiments, worktrees) stay read-only even when they lie
    # inside the run's folder (params mode); then the experiment's log folder is opened again.
    study_dir = (spec.root / ".autoresearch").resolve()
    if study_dir.is_dir() and (study_dir == root or root in study_dir.parents):
        argv += ["--ro-bind", str(study_dir), str(study_dir)]
    for folder in writable:
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        argv += ["--bind", str(folder), str(folder)]
    from autoresearch.workspace.git import hash_files

    protected = [*spec.integrity.protected, *(spec.code.protected if spec.code else [])]
    for rel in sorted(hash_files(root, protected)) if protected else []:
        path = root / rel
        if path.exists():
            argv += ["--ro-bind", str(path), str(path)]
    for spec_file in ("autoresearch.toml", "pyproject.toml"):
        path = root / spec_file
        if path.is_file():
            argv += ["--ro-bind", str(path), str(path)]
    return argv
