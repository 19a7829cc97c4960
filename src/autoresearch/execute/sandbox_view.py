"""`autoresearch sandbox`: what each sandboxed process of a study sees, and a command run in that view.

A user whose guard fails in the sandbox should be able to look at the view and try the guard by hand
before the study spends its budget, rather than turn the sandbox off. The view is described from the
same model the failure diagnosis uses (`diagnose.mounts`), and a command runs through the same prefix
as an experiment (`sandbox.prefix`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autoresearch.execute import diagnose, preflight, sandbox
from autoresearch.materialise.params import render_command
from autoresearch.spec import Spec

# `--as` names -> the spec key whose process it is (preflight.view_for knows each one's view).
ROLES = {
    "experiment": "run.command",
    "holdout": "holdout.command",
    "scorer": "scorer.command",
    "proposer": "proposer.use",
}
_LABELS = {
    "experiment": "experiment, repeat, recheck, guard, profile",
    "holdout": "holdout",
    "scorer": "scorer",
    "proposer": "script proposer",
}


def roles(spec: Spec) -> list[str]:
    """The kinds of sandboxed process this spec starts."""
    present = {
        "experiment": True,
        "holdout": spec.holdout is not None,
        "scorer": spec.scorer is not None,
        "proposer": spec.proposer.use.startswith("script:"),
    }
    return [role for role, yes in present.items() if yes]


def _view(spec: Spec, role: str, output: Path) -> sandbox.View:
    """The view of ROLE as `sandbox -- CMD` runs it: from the spec's folder (read-only in code mode, a
    stand-in for the candidate's checkout), with OUTPUT as its fresh writable folder (a scorer has none)."""
    view = preflight.view_for(spec, ROLES[role])
    if role == "scorer":
        return view
    return sandbox.View(
        view.root, writable=(*view.writable, output), reveal=view.reveal, read_only_root=view.read_only_root
    )


def _described_view(spec: Spec, role: str) -> tuple[sandbox.View, str]:
    """The view ROLE has during a study, and how its working folder is called."""
    study = spec.study_dir
    home = spec.root.resolve()
    output = study / "experiments" / "<id>" / "output"
    if spec.mode == "code":
        root, where = study / "worktrees" / "<n>", f"{study / 'worktrees'}/<n> (a checkout of the candidate's commit)"
    else:
        root, where = home, f"{home} (the spec's folder)"
    if role == "scorer" and spec.scorer is not None:
        readable = (root, output)
        return sandbox.View(home, readable=readable, reveal=tuple(spec.scorer.data), read_only_root=True), str(home)
    if role == "proposer":
        proposer_dir = study / "proposer"
        return sandbox.proposer_view(spec, home, (proposer_dir,)), str(home)
    reveal = tuple(spec.holdout.data) if role == "holdout" and spec.holdout is not None else ()
    return sandbox.View(root, writable=(output,), reveal=reveal), where


def _env(spec: Spec, role: str) -> dict[str, str]:
    return preflight.env_for(spec, ROLES[role])


def describe(spec: Spec) -> str:
    """What each process of the study sees: readable, writable, hidden, private, network, environment."""
    kind = sandbox.resolve_kind(spec)
    asked = f' (kind "{spec.sandbox.kind}")' if spec.sandbox.kind != kind else ""
    lines = [f"study {spec.name}: sandbox {kind}{asked}"]
    if kind == "none":
        why = sandbox.bwrap_usable()
        lines.append(sandbox.NONE_WARNING + (f" (bubblewrap: {why})" if why and spec.sandbox.kind == "auto" else ""))
    for role in roles(spec):
        view, where = _described_view(spec, role)
        network = spec.sandbox.network if view.network is None else view.network
        lines += ["", f"{_LABELS[role]}:"]
        if kind == "bwrap":
            layout = diagnose.mounts(spec, view)
            lines += _describe_layout(layout, view, where)
        lines.append(f"  network:    {'on' if network else 'off (sandbox.network = false)'}")
        env = _env(spec, role)
        own = sandbox.env_overrides(spec)
        passed = sorted(name for name in env if name not in own)
        lines.append(f"  environment: {' '.join(passed)} and AUTORESEARCH_* (only these pass: run.pass_env adds more)")
        if own:
            lines.append("  set by the sandbox: " + " ".join(f"{k}={v}" for k, v in own.items()))
    return "\n".join(lines)


def _describe_layout(layout: list[diagnose.Mount], view: sandbox.View, where: str) -> list[str]:
    root = view.root.resolve()
    readable: list[str] = []
    writable: list[str] = []
    hidden: list[str] = []
    for mount in layout[2:]:  # after the read-only / and the private /tmp
        shown = where if mount.path == root else str(mount.path)
        if mount.state == "writable":
            writable.append(shown)
        elif mount.state == "read-only":
            readable.append(shown)
        elif mount.state == "hidden":
            hidden.append(f"{shown} ({mount.why.split(':')[0]})")

    def listed(items: list[str]) -> str:
        return ", ".join(dict.fromkeys(items)) or "nothing more"

    return [
        f"  readable:   everything your user can read, read-only; and {listed(readable)}",
        f"  writable:   {listed(writable)}; the private /tmp",
        f"  hidden:     {listed(hidden)}",
        "  private:    /tmp (empty and its own, gone when the process ends; sandbox.readable shows a path under it)",
    ]


def run(spec: Spec, command: str, role: str = "experiment") -> int:
    """Run COMMAND (a shell command, `{python}` allowed) as ROLE's process would, from the spec's folder;
    print what it wrote, and the sandbox's likely part when it fails. Returns its exit code."""
    output = Path(tempfile.mkdtemp(prefix="autoresearch-sandbox-"))
    try:
        view = _view(spec, role, output)
        values = {"python": sys.executable, "seed": spec.study.seed, "output_dir": str(output)}
        rendered = render_command(command, values)
        env = _env(spec, role) | {"AUTORESEARCH_OUTPUT_DIR": str(output), "AUTORESEARCH_SEED": str(spec.study.seed)}
        cwd = spec.root / spec.run.cwd
        done = subprocess.run(
            [*sandbox.prefix(spec, view), "/bin/sh", "-c", rendered],
            cwd=cwd if cwd.is_dir() else spec.root,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
        )
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            cause = diagnose.explain(spec, view, rendered, env, done.stdout[-4000:] + "\n" + done.stderr[-4000:])
            if cause is not None:
                sys.stderr.write(f"autoresearch: exit code {done.returncode}; {cause}\n")
        return done.returncode
    finally:
        shutil.rmtree(output, ignore_errors=True)


def working_folder_note(spec: Spec) -> str:
    """What `sandbox -- CMD` runs in, said once before it runs."""
    if spec.mode == "code":
        return (
            f"running in {spec.root.resolve()} (read-only: experiments run in a checkout of the commit, "
            "where only committed files exist), in an experiment's view"
        )
    return f"running in {spec.root.resolve()}, in an experiment's view"
