"""Before the baseline: can each command of the spec start in the sandbox?

Each command's executable (its first word: `/tmp/env/bin/python`, `pytest`, `{python}`) is looked up
once inside the sandbox, in the view an experiment gets. One that resolves outside but not inside (or to
another program: a `pytest` further down PATH) stops
the study before it spends any budget, with the wall that hides it and the spec line that allows it
(run/diagnose.py). One missing everywhere is left to the baseline, whose failure says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from autoresearch.execute import diagnose, sandbox, sandbox_defaults
from autoresearch.execute.process import experiment_env
from autoresearch.spec import Spec

_WRAPPERS = {"env", "exec", "nice", "nohup", "command"}


def executable(command: str) -> str | None:
    """The program COMMAND starts (after `VAR=value` words and `env`-like wrappers), or None when it is
    not a plain word (a placeholder, a shell construct, a relative path checked with the run's files)."""
    for word in sandbox_defaults.words(command):
        if word in _WRAPPERS or word.startswith("-") or ("=" in word and not word.startswith("/")):
            continue
        if "{" in word or (not word.startswith("/") and "/" in word):
            return None
        return word if all(c.isalnum() or c in "/._+-" for c in word) else None
    return None


def view_for(spec: Spec, key: str) -> sandbox.View:
    """The view the process named by KEY gets (working folder: the spec's, as a read-only stand-in for
    a code-mode worktree)."""
    root = spec.root.resolve()
    if key == "scorer.command" and spec.scorer is not None:
        return sandbox.View(root, reveal=tuple(spec.scorer.data), read_only_root=True)
    if key == "holdout.command" and spec.holdout is not None:
        return sandbox.View(root, reveal=tuple(spec.holdout.data), read_only_root=spec.mode == "code")
    if key == "proposer.use":
        return sandbox.proposer_view(spec, root, ())
    return sandbox.View(root, read_only_root=spec.mode == "code")


def env_for(spec: Spec, key: str) -> dict[str, str]:
    if key == "proposer.use":
        return sandbox.proposer_env(spec, {})
    extra = {**spec.run.env, **sandbox.env_overrides(spec)}
    return experiment_env(os.environ, extra=extra, allow=spec.run.pass_env)


def check(spec: Spec) -> str:
    """The first command that cannot start in the sandbox, with why and the fix; '' when all can."""
    if sandbox.resolve_kind(spec) != "bwrap" or spec.run.executor != "local":
        return ""  # without bwrap a process sees what autoresearch sees
    cwd = spec.root / spec.run.cwd
    for key, command in sandbox_defaults.spec_commands(spec).items():
        program = executable(command)
        if program is None:
            continue
        env = env_for(spec, key)
        outside = program if program.startswith("/") else shutil.which(program, path=env.get("PATH"))
        if outside is None or not os.access(outside, os.X_OK):
            continue  # missing everywhere: not the sandbox's doing; the baseline will say so
        view = view_for(spec, key)
        probe = ["/bin/sh", "-c", 'command -v -- "$1"', "sh", program]
        try:
            done = subprocess.run(
                [*sandbox.prefix(spec, view), *probe],
                cwd=cwd if cwd.is_dir() else spec.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        inside = done.stdout.strip() if done.returncode == 0 else ""
        if inside and (not inside.startswith("/") or os.path.realpath(inside) == os.path.realpath(outside)):
            continue  # the same program, or a shell builtin (echo, test) that needs nothing from outside
        found = diagnose.explain(spec, view, f"{outside} {command}", env, f"{outside}: not found\n{done.stderr}")
        why = str(found) if found else "it is not there inside the sandbox"
        instead = f" (it would run {inside} instead)" if inside else ""
        return f"{key} cannot start: {program!r} is {outside} here but not in the sandbox{instead}; {why}"
    return ""
