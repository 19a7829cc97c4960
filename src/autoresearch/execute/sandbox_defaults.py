"""What the sandbox opens for the tools people use, so that a study works under bwrap as it does outside.

- Interpreters named in commands (an absolute path, `{python}`, the study's `.venv`) stay readable where
  bwrap's private /tmp would hide them: a virtual environment kept in /tmp is shown read-only.
- `sandbox.readable`: more paths the user shows read-only (data or tools under /tmp).
- Caches that tools write (pip, torch, triton, Hugging Face, matplotlib, XDG) go to a per-run folder in
  the private /tmp, unless the user set the variable, or made the tool's usual folder writable with
  `sandbox.writable` (then the cache is kept there between runs).

None of this opens a hidden place (the study folder with the store, git's data, scorer/holdout data):
a path inside one is refused (`refused_path`) or left out (`named_interpreters`), and the hiding mounts
come after these binds, so a folder holding a hidden place still shows it empty.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from autoresearch.execute.hidden import hidden_places, inside
from autoresearch.execute.process import passes_by_default
from autoresearch.spec import Spec

PRIVATE_TMP = Path("/tmp")
CACHE_ROOT = "/tmp/.cache"  # inside the private /tmp: writable, fresh for every run, gone after it

# Variable -> (the tool's usual folder, where it goes for a run when nobody chose one).
CACHES: dict[str, tuple[str, str]] = {
    "XDG_CACHE_HOME": ("~/.cache", f"{CACHE_ROOT}"),
    "PIP_CACHE_DIR": ("~/.cache/pip", f"{CACHE_ROOT}/pip"),
    "TORCH_HOME": ("~/.cache/torch", f"{CACHE_ROOT}/torch"),
    "TRITON_CACHE_DIR": ("~/.triton/cache", f"{CACHE_ROOT}/triton"),
    "HF_HOME": ("~/.cache/huggingface", f"{CACHE_ROOT}/huggingface"),
    "MPLCONFIGDIR": ("~/.config/matplotlib", f"{CACHE_ROOT}/matplotlib"),
}
# Downloaded weights and models: an existing folder is kept (read-only, offline use still works) rather
# than replaced by an empty per-run one that would download everything again.
KEEP_EXISTING = frozenset({"TORCH_HOME", "HF_HOME"})


def refused_path(spec: Spec) -> str | None:
    """Why a `sandbox.readable` / `sandbox.writable` path cannot be opened (it would replace the private
    /tmp, or falls on a hidden place), or None; the sandbox refuses to start with it."""
    hidden = hidden_places(spec)
    for key, texts in (("readable", spec.sandbox.readable), ("writable", spec.sandbox.writable)):
        for text in texts:
            path = Path(os.path.expanduser(text)).resolve()
            if key == "readable" and path in (PRIVATE_TMP, Path("/")):
                return (
                    f"sandbox.readable: {text!r} would replace the private /tmp (nothing could write there); "
                    "name the folders under /tmp that the commands need"
                )
            place = next((h for h in hidden if inside(path, h)), None)
            if place is not None:
                return (
                    f"sandbox.{key}: {text!r} is inside {place}, which no sandboxed process may see (the store, "
                    "git's data or scorer/holdout data); remove it, or keep what the runs need outside that place"
                )
    return None


def spec_commands(spec: Spec) -> dict[str, str]:
    """Every command of the spec that runs sandboxed, by the spec key that sets it."""
    commands = {"run.command": spec.run.command}
    for guard in spec.guard:
        if guard.command is not None:
            commands[f"guard {guard.name}"] = guard.command
    if spec.holdout is not None:
        commands["holdout.command"] = spec.holdout.command
    if spec.scorer is not None:
        commands["scorer.command"] = spec.scorer.command
    if spec.profile is not None:
        commands["profile.command"] = spec.profile.command
    if spec.proposer.use.startswith("script:"):
        commands["proposer.use"] = spec.proposer.use.removeprefix("script:")
    return commands


def words(command: str) -> list[str]:
    """COMMAND's shell words with `{python}` filled in ([] when it does not parse)."""
    try:
        return shlex.split(command.replace("{python}", shlex.quote(sys.executable)))
    except ValueError:
        return []


def environment_of(executable: Path) -> Path:
    """The folder an interpreter needs whole: its virtual environment or conda prefix, else its folder."""
    for folder in executable.parents:
        if (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir():
            return folder
    return executable.parent.parent if executable.parent.name == "bin" else executable.parent


def named_interpreters(spec: Spec) -> tuple[Path, ...]:
    """Folders under the private /tmp holding an executable that a command names by absolute path (or the
    study's .venv): shown read-only so that `/tmp/env/bin/python -m pytest` works as it does outside."""
    found: set[Path] = set()
    for command in spec_commands(spec).values():
        for word in words(command):
            path = Path(word.split("=", 1)[1] if word.startswith("-") and "=" in word else word)
            if not path.is_absolute() or not path.is_file() or not os.access(path, os.X_OK):
                continue
            for executable in (path, path.resolve()):  # a venv whose python links into another one
                folder = environment_of(executable)
                found.add(executable if folder == PRIVATE_TMP else folder)  # never the whole /tmp
    venv = spec.root / ".venv"
    if venv.is_dir():
        found.add(venv)
    hidden = hidden_places(spec)
    under_tmp = {f.resolve() for f in found if PRIVATE_TMP in f.resolve().parents}  # elsewhere: readable already
    return tuple(sorted(f for f in under_tmp if not any(inside(f, h) for h in hidden)))


def readable_folders(spec: Spec) -> tuple[Path, ...]:
    """What bwrap binds read-only on top of the private /tmp: named interpreters and `sandbox.readable`."""
    chosen = (Path(os.path.expanduser(text)).resolve() for text in spec.sandbox.readable)
    return tuple(dict.fromkeys([*named_interpreters(spec), *chosen]))


def cache_env(spec: Spec) -> dict[str, str]:
    """Cache variables for a bwrap run: the user's choice, or a writable usual folder, else a per-run one."""
    writable = [Path(os.path.expanduser(text)).resolve() for text in spec.sandbox.writable]
    env: dict[str, str] = {}
    for name, (usual, per_run) in CACHES.items():
        passed = name in os.environ and (passes_by_default(name) or name in spec.run.pass_env)
        if passed or name in spec.run.env:
            continue  # the user chose it: passed as they set it (read-only unless made writable)
        folder = Path(os.path.expanduser(usual))
        if any(inside(folder.resolve(), w) for w in writable) or (name in KEEP_EXISTING and folder.is_dir()):
            env[name] = str(folder)
        else:
            env[name] = per_run
    return env
