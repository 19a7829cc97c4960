"""Reusable worktrees: cleaned between experiments, recovered after a crash, made at once by two studies."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from autoresearch.materialise.workspace import GitWorkspace
from tests.materialise.conftest import STUDY, run_experiment, sh, workspace


def test_worktree_is_reused_and_cleaned(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = run_experiment(ws, base, 1)
    tree = ws.checkout(0, base)
    inode = tree.stat().st_ino
    (tree / "train.py").write_text("garbage\n")
    (tree / "cache").mkdir()
    (tree / "cache/big.bin").write_bytes(b"\0" * 100)  # ignored
    (tree / "new.py").write_text("untracked\n")
    again = ws.checkout(0, sha)
    assert again == tree and again.stat().st_ino == inode
    assert sorted(p.name for p in again.iterdir()) == [
        ".git",
        ".gitignore",
        "data",
        "evaluate.py",
        "removed.py",
        "train.py",
    ]
    assert (again / "train.py").read_text().startswith("LR = 0.05")
    assert sh(again, "status", "--porcelain", "--ignored") == ""
    assert sh(again, "rev-parse", "HEAD") == sha
    detached = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=again, capture_output=True)
    assert detached.returncode == 1


def _crash_leftovers(repo: Path, tree: Path, kind: str) -> None:
    admin = Path(sh(tree, "rev-parse", "--path-format=absolute", "--git-dir"))
    if kind == "index.lock":
        (admin / "index.lock").write_text("")
        (tree / "train.py").write_text("half-written\n")
    elif kind == "directory missing":
        subprocess.run(["rm", "-rf", str(tree)], check=True)
    elif kind == "registration missing":
        subprocess.run(["rm", "-rf", str(admin)], check=True)
    elif kind == "stale directory":
        subprocess.run(["rm", "-rf", str(tree), str(admin)], check=True)
        (tree / "sub").mkdir(parents=True)
        (tree / "sub/junk.txt").write_text("left over\n")


@pytest.mark.parametrize("kind", ["index.lock", "directory missing", "registration missing", "stale directory"])
def test_worktree_recovers_after_a_crash(repo: Path, kind: str) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    tree = ws.checkout(0, base)
    _crash_leftovers(repo, tree, kind)
    fresh = workspace(repo)  # a new process after the crash
    sha = run_experiment(fresh, base, 7)
    assert (tree / "train.py").read_text().startswith("LR = 0.05")
    assert sh(tree, "rev-parse", "HEAD") == sha
    listed = sh(repo, "worktree", "list", "--porcelain")
    assert listed.count(f"worktree {tree.resolve()}") == 1


def test_worktrees_outside_autoresearch_dir_are_excluded(repo: Path) -> None:
    ws = GitWorkspace(repo, STUDY, Path("scratch/wt"))
    ws.checkout(0, ws.baseline_commit())
    assert sh(repo, "status", "--porcelain") == ""
    assert ws.baseline_commit(include_uncommitted=True) == sh(repo, "rev-parse", "HEAD")
    assert os.path.isdir(repo / "scratch/wt/0")


def test_worktrees_made_at_once_by_two_workspaces_of_one_repository(repo: Path) -> None:
    # The agent proposer's workspace and the evaluator's make worktrees from different threads; two
    # studies may share a repository too. git's `worktree prune` must never meet a half-made `add`.
    head = sh(repo, "rev-parse", "HEAD")
    spaces = [GitWorkspace(repo, f"s{i}", repo / ".autoresearch" / f"s{i}" / "worktrees") for i in range(2)]
    errors: list[BaseException] = []

    def churn(ws: GitWorkspace) -> None:
        try:
            for _ in range(30):
                shutil.rmtree(ws.worktrees_dir, ignore_errors=True)  # the next checkout re-adds it
                ws._manifests.clear()
                assert (ws.checkout(0, head) / "train.py").is_file()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(ws,)) for ws in spaces]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
