"""Naming the sandbox when it is why a command failed, with the one spec line that allows what it refused.

A command that works outside and fails under bwrap usually meets one of a few walls: a path that exists
outside but not inside (bwrap's private /tmp, a hidden place), a write to a read-only path (HOME's
caches), a connection under `network = false`, or a variable the environment allowlist dropped. Users
who cannot tell turn the sandbox off; a message that names the wall and the line that opens it keeps
them on it.

`mounts` models bwrap's view as `_bwrap_argv` builds it (later mounts cover earlier ones), so both the
diagnosis and `autoresearch sandbox` read one description of what a process sees.

Only the user's own commands are diagnosed (the baseline, the pre-flight check, `autoresearch sandbox`,
a proposer's first failure in a run): the diagnosis looks at paths and variables outside the sandbox,
and a candidate or proposer that could print names and read the verdicts would learn what exists
outside its view. One verdict per proposer and run bounds what a proposer can learn to one fact.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autoresearch.execute import sandbox, sandbox_defaults
from autoresearch.execute.hidden import hidden_paths
from autoresearch.spec import Spec

State = Literal["read-only", "writable", "private", "hidden"]


@dataclass(frozen=True)
class Cause:
    """Why the sandbox made a command fail (WHAT), and the spec line that allows it (FIX)."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"the sandbox is the likely cause: it {self.what}; {self.fix}"


@dataclass(frozen=True)
class Mount:
    path: Path
    state: State
    why: str  # said when this mount is the cause: "the study's folder", "bwrap's private /tmp"


def mounts(spec: Spec, view: sandbox.View) -> list[Mount]:
    """What a bwrap process with VIEW sees, as mounts in the order bwrap makes them: for any path, the
    last mount that holds it decides (a later mount covers whatever an earlier one put under it)."""
    root = view.root.resolve()
    found = [Mount(Path("/"), "read-only", "the whole filesystem is read-only"), Mount(Path("/tmp"), "private", "")]
    found += [Mount(f, "read-only", "autoresearch's Python") for f in sandbox._python_under_tmp()]
    shown = sandbox_defaults.readable_folders(spec)
    found += [Mount(f, "read-only", "a named interpreter or sandbox.readable") for f in shown]
    root_mount = Mount(root, "read-only" if view.read_only_root else "writable", "the run's folder")
    found.append(root_mount)
    hidden = hidden_paths(spec)
    found += [Mount(h, "hidden", _hidden_why(h)) for h in hidden]
    data = [*(spec.scorer.data if spec.scorer else []), *(spec.holdout.data if spec.holdout else [])]
    data = [rel for rel in data if rel not in view.reveal]
    found += [Mount((spec.root / rel).resolve(), "hidden", _data_why(spec, rel)) for rel in data]
    if any(h == root or h in root.parents for h in hidden):
        found.append(root_mount)
        found += [Mount(root / rel, "hidden", _data_why(spec, rel)) for rel in data]
    found += [Mount(p.resolve(), "read-only", "shown to this process") for p in view.readable]
    writable = [*view.writable, *(Path(os.path.expanduser(t)) for t in spec.sandbox.writable)]
    found += [Mount(p.resolve(), "writable", "writable for this process") for p in writable]
    return found


def _hidden_why(place: Path) -> str:
    if place.name == ".git":
        return "git's data: hidden from every sandboxed process"
    return "the study's folder with the store, logs and other experiments: hidden from every sandboxed process"


def _data_why(spec: Spec, rel: str) -> str:
    if spec.scorer is not None and rel in spec.scorer.data:
        return f"scorer.data ({rel}), shown only to the scorer"
    return f"holdout.data ({rel}), shown only to the holdout"


def state_of(path: Path, layout: list[Mount]) -> Mount:
    """The mount that decides what a process sees at PATH."""
    decided = layout[0]
    for mount in layout:
        if path == mount.path or mount.path in path.parents:
            decided = mount
    return decided


_PATH = re.compile(r"(?<![\w.~/-])(~?/[\w.@+%=,-]+(?:/[\w.@+%=,-]*)*)")
_READ_ONLY = re.compile(r"read-only file system|\[errno 30\]|erofs", re.IGNORECASE)
_MISSING = re.compile(
    r"no such file|not found|cannot access|can't open|cannot open|does not exist|not a directory|\[errno 2\]|"
    r"filenotfound|cannot find|could not find",
    re.IGNORECASE,
)
_NO_NETWORK = re.compile(
    r"network is unreachable|connection refused|temporary failure in name resolution|name or service not known|"
    r"could not resolve host|nodename nor servname|no address associated|\[errno (101|111|-2|-3)\]|getaddrinfo failed",
    re.IGNORECASE,
)


def paths_in(text: str) -> list[Path]:
    """Absolute paths (and ~/ paths) named in TEXT, in order, without repeats."""
    found = [m.group(1).rstrip(".,:;") for m in _PATH.finditer(text)]
    return list(dict.fromkeys(Path(os.path.expanduser(p)) for p in found if len(p) > 1))


def _shown(path: Path) -> str:
    home = Path.home()
    return "~/" + str(path.relative_to(home)) if home in path.parents else str(path)


# Where each widening is written, for experiments (and guards, holdout, scorer) and for proposers,
# whose network, variables and writable folders are their own [proposer] options.
_LINES = {
    False: {
        "network": "set sandbox.network = true",
        "pass_env": 'pass it with run.pass_env = ["{}"]',
        "writable": 'allow writing there with sandbox.writable = ["{}"]',
    },
    True: {
        "network": "set network = true in [proposer] options",
        "pass_env": 'pass it with pass_env = ["{}"] in [proposer] options',
        "writable": 'allow writing there with writable = ["{}"] in [proposer] options',
    },
}


def explain(
    spec: Spec, view: sandbox.View, command: str, env: Mapping[str, str], output: str, proposer: bool = False
) -> Cause | None:
    """The sandbox wall that most likely made COMMAND fail with OUTPUT (its stdout and stderr tails), or None.
    PROPOSER: the fix is a [proposer] option where it has one."""
    lines = _LINES[proposer]
    network = spec.sandbox.network if view.network is None else view.network
    bwrap = sandbox.resolve_kind(spec) == "bwrap"
    if bwrap:
        layout = mounts(spec, view)
        cause = _refused_write(output, layout, lines["writable"]) or _missing_path(command, output, layout)
        if cause is not None:
            return cause
    if not network and _NO_NETWORK.search(output):
        return Cause(
            "has no network (sandbox.network = false): the connection was refused",
            lines["network"] + " if the command must reach the network",
        )
    return _dropped_variable(command, output, env, lines["pass_env"])


def _missing_path(command: str, output: str, layout: list[Mount]) -> Cause | None:
    """A path the command names, or its output says is missing, there outside, but private or hidden
    inside. (An output path without a complaint may be the sandbox's own /tmp, a pytest basetemp that
    happens to exist outside too: naming it would blame the sandbox for a plain bug.)"""
    complaints = [paths_in(line) for line in output.splitlines() if _MISSING.search(line)]
    for path in [*paths_in(command), *(path for found in complaints for path in found)]:
        if not os.path.lexists(path):
            continue
        mount = state_of(path.resolve(), layout)
        if mount.state == "private" and mount.path != path.resolve():  # /tmp itself is there, empty
            folder = sandbox_defaults.environment_of(path) if path.parent.name == "bin" else path
            folder = folder if folder.is_dir() else folder.parent
            return Cause(
                f"cannot see {path}: /tmp is private inside the sandbox (an empty one of its own)",
                f'allow it read-only with sandbox.readable = ["{folder}"]',
            )
        if mount.state == "hidden":
            return Cause(
                f"hides {path}: it is in {mount.why}",
                "no spec line opens it to this process (docs/trust.md, threat model); keep what the command "
                "needs outside that place",
            )
    return None


def _refused_write(output: str, layout: list[Mount], fix: str) -> Cause | None:
    """A write refused on a read-only path (a cache in HOME, data beside the study)."""
    for line in output.splitlines():
        if not _READ_ONLY.search(line):
            continue
        for path in paths_in(line):
            if state_of(path.resolve(), layout).state != "read-only":
                continue
            # The folder written into: the path itself when it is (or, missing and without a suffix,
            # is about to be made) a folder, else the one holding the file.
            folder = path if path.is_dir() or (not path.exists() and not path.suffix) else path.parent
            return Cause(
                f"keeps {path} read-only (everything outside the run's folders is)",
                fix.format(_shown(folder)),
            )
    return None


def _dropped_variable(command: str, output: str, env: Mapping[str, str], fix: str) -> Cause | None:
    """A variable set outside, left out by the environment allowlist, that the command or output asks for."""
    dropped = [name for name in os.environ if name not in env and len(name) > 1]
    for name in sorted(dropped, key=len, reverse=True):
        named = re.escape(name)
        asks = (
            rf"\$\{{?{named}\b|KeyError: ['\"]{named}['\"]|environ\[['\"]{named}['\"]\]|getenv\(['\"]{named}['\"]|"
            rf"\b{named}\b[:'\"]* (is )?(not set|unset|undefined|unbound|parameter not set|missing)|"
            rf"\b{named}: (parameter not set|unbound variable)"
        )
        if re.search(asks, command) or re.search(asks, output):
            return Cause(
                f"drops {name} from the environment (only an allowlist of variables passes)",
                fix.format(name),
            )
    return None


def missing_files(text: str, names: Iterable[str]) -> list[str]:
    """The NAMES (paths relative to a repository) that TEXT shows missing: named in it, or imported by
    their module name in a `No module named` error."""
    modules = set(re.findall(r"No module named '([\w.]+)'", text))
    found = []
    for name in names:
        stem = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        if name in text or (Path(name).name in text and len(Path(name).name) > 3) or stem in modules:
            found.append(name)
    return found


class ProposerDiagnosis:
    """A proposer's failures, diagnosed once per run (the first): a proposer may be adversarial, and
    one verdict is all it can ever read back."""

    def __init__(self) -> None:
        self.used = False

    def __call__(self, spec: Spec, view: sandbox.View, command: str, env: Mapping[str, str], output: str) -> str:
        """'; <cause>' for the first failure whose cause is the sandbox, else ''."""
        if self.used:
            return ""
        self.used = True
        cause = explain(spec, view, command, env, output[-4000:], proposer=True)
        return f"; {cause}" if cause else ""
