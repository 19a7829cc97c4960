"""The places the threat model hides from every sandboxed process (docs/trust.md): the study folder
(store, logs, other experiments' worktrees), git's data, and the scorer's and holdout's data.

The sandbox covers them (sandbox.py), what it opens for tools never reaches into them
(sandbox_defaults.py), and a failed command is explained by them (diagnose.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from autoresearch.spec import Spec


def inside(path: Path, folder: Path) -> bool:
    """Whether PATH is FOLDER or lies below it."""
    return path == folder or folder in path.parents


def hidden_paths(spec: Spec) -> list[Path]:
    """Places no sandboxed process sees: the study folder (store, logs, worktrees) and git's data.

    Each is hidden where it really is (its links resolved): a `.git` that is a file (a linked worktree,
    a submodule) hides the git folder it names and the common one it shares, wherever they are, and
    every repository above the spec's folder counts, not only the nearest.
    """
    hidden = [Path(os.path.realpath(spec.root / ".autoresearch"))]
    for folder in [spec.root.resolve(), *spec.root.resolve().parents]:
        hidden += _git_dirs(folder / ".git")
    return list(dict.fromkeys(hidden))


def _git_dirs(dot_git: Path) -> list[Path]:
    """The folders git keeps FOLDER's data in, for its `.git` (a folder, a link to one, or a `gitdir:` file)."""
    if not os.path.lexists(dot_git):
        return []
    found = [dot_git] if dot_git.is_symlink() or dot_git.is_file() else []
    git_dir = Path(os.path.realpath(dot_git))
    if git_dir.is_file():
        try:
            text = git_dir.read_text(errors="replace").strip()
        except OSError:
            return found
        if not text.startswith("gitdir:"):
            return found
        named = Path(text.removeprefix("gitdir:").strip())
        git_dir = Path(os.path.realpath(dot_git.parent / named))
    if not git_dir.is_dir():
        return found
    found.append(git_dir)
    try:  # a linked worktree's folder shares the main repository's objects, refs and config
        common = (git_dir / "commondir").read_text(errors="replace").strip()
    except OSError:
        return found
    found.append(Path(os.path.realpath(git_dir / common)))
    return found


def hidden_places(spec: Spec) -> list[Path]:
    """Every place the threat model hides from experiments: the study folder, git's data, hidden data."""
    data = [*(spec.scorer.data if spec.scorer else []), *(spec.holdout.data if spec.holdout else [])]
    return [*hidden_paths(spec), *((spec.root / rel).resolve() for rel in data)]
