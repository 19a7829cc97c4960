"""Files that change how Python or pytest runs, left by a run where a guard or the holdout runs next.

A guard of the test-suite kind (`python -m pytest`) and a holdout import from their working folder on
purpose: the code under test is there. So does whatever a run or proposer left beside it: a
`conftest.py` that passes every test, a `sitecustomize.py` or `.pth` file run at every start, a
`statistics.py` shadowing the standard library. Such *hooks* are recognised by name and place:

- hook files: `conftest.py`, `sitecustomize.py`, `usercustomize.py`, pytest's configuration files
  (`pytest.ini`, `.pytest.ini`, `tox.ini`, `setup.cfg`, `pyproject.toml`) and `*.pth`;
- modules: a `.py`/`.pyc`/`.so` file or a package folder at the top of an import root (a folder that
  is not itself a package), which `import NAME` finds before the standard library or site-packages.

Params mode (`Snapshot`): the spec's folder is the runs' own, so every hook and top-level module in it
is recorded when the study starts; before a guard or the holdout runs, a hook that is new or changed,
or a top-level module that is new, rejects the candidate, and new ones are removed (they were not
there when the study started). Code mode (`shadowing`): a candidate's commit is exactly what it
proposed, so only a hook file or a module named like the standard library's that its commit adds or
changes is refused, before anything runs, when the study has guards or a holdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autoresearch.core import safeio

HOOK_FILES = frozenset(
    {
        "conftest.py",
        "sitecustomize.py",
        "usercustomize.py",
        "pytest.ini",
        ".pytest.ini",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
    }
)
MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
SKIPPED_FOLDERS = frozenset({".git", ".autoresearch", "__pycache__", "node_modules"})


def is_hook(name: str) -> bool:
    return name in HOOK_FILES or name.endswith(".pth")


def module_name(name: str) -> str | None:
    """The name `import` finds a file NAME under (`statistics.py`, `_ssl.cpython-311-x86_64.so`), or None."""
    if not name.endswith(MODULE_SUFFIXES) or name.startswith("."):
        return None
    return name.split(".", 1)[0] or None


def shadowing(paths: list[str], is_package: dict[str, bool] | None = None) -> list[str]:
    """Among repository PATHS (a commit's changes), the hook files and modules named like the standard
    library's; a module inside a package (a folder with `__init__.py`, per IS_PACKAGE) shadows nothing."""
    found = []
    for path in paths:
        pure = PurePosixPath(path)
        if is_hook(pure.name):
            found.append(path)
            continue
        parts = pure.parts
        for depth, part in enumerate(parts):
            name = module_name(part) if depth == len(parts) - 1 else part
            folder = "/".join(parts[:depth])
            if name in sys.stdlib_module_names and not (is_package or {}).get(folder, False):
                found.append(path)
                break
    return found


@dataclass(frozen=True)
class Snapshot:
    """The hooks (path -> sha256) and top-level modules of a folder, as the study found it."""

    hooks: dict[str, str]
    modules: frozenset[str]

    @classmethod
    def of(cls, root: Path) -> Snapshot:
        hooks: dict[str, str] = {}
        modules: set[str] = set()
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
            here = Path(folder)
            rel = here.relative_to(root)
            package = "__init__.py" in names
            for name in names:
                path = (rel / name).as_posix()
                if is_hook(name):
                    hooks[path] = _digest(here / name)
                elif not package and module_name(name):
                    modules.add(path)
            if not package:
                modules.update((rel / d).as_posix() for d in dirs if (here / d / "__init__.py").exists())
        return cls(hooks, frozenset(modules))

    def planted(self, root: Path) -> list[str]:
        """What differs in ROOT now: hooks new or changed, top-level modules new."""
        now = Snapshot.of(root)
        changed = [p for p, digest in now.hooks.items() if self.hooks.get(p) != digest]
        return sorted({*changed, *(now.modules - self.modules)})

    def refuse(self, root: Path, anchor: Path) -> str | None:
        """Why a guard or the holdout must not run in ROOT now, or None; new hooks are removed."""
        found = self.planted(root)
        if not found:
            return None
        for rel in found:
            if rel not in self.hooks:  # not there when the study started: not the user's
                _remove(root / rel, anchor)
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        return (
            f"the run left {shown} in the study's folder, where guards and the holdout import from: such a "
            "file could make them pass; new ones were removed, a changed one must be restored by you"
        )


def _digest(path: Path) -> str:
    try:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _remove(path: Path, anchor: Path) -> None:
    with contextlib.suppress(OSError, safeio.UnsafePath):
        parent = safeio.open_dir(path.parent, anchor, create=False)
        try:
            info = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path.name, dir_fd=parent)  # fd-based: never follows a link inside
            else:
                os.unlink(path.name, dir_fd=parent)
        finally:
            os.close(parent)
