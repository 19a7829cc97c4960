"""A repository's objects: commits built from blobs, deletions, diffs that read back as edits, odd paths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autoresearch.materialise.edits import apply_edits, parse_edits
from autoresearch.materialise.git import GitError
from autoresearch.materialise.workspace import GitWorkspace
from tests.materialise.conftest import STUDY, sh, workspace


def test_repository_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    sh(root, "init", "-q")
    (root / "a.py").write_text("A = 1\n")
    ws = workspace(root)
    with pytest.raises(GitError, match="has no commits yet"):
        ws.baseline_commit()
    base = ws.baseline_commit(include_uncommitted=True)
    assert ws.files_at(base, ["a.py"]) == {"a.py": "A = 1\n"}


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="is not inside a git work tree"):
        GitWorkspace(tmp_path, STUDY, tmp_path / "wt")


def test_commit_files_refuses_links_and_submodules(repo: Path) -> None:
    ws = workspace(repo)
    for mode in ("120000", "160000", "040000"):
        with pytest.raises(GitError, match="only regular files are committed"):
            ws.commit_files(ws.baseline_commit(), {"new": "evaluate.py"}, "link", modes={"new": mode})


def test_commit_records_deletions_of_listed_paths(repo: Path) -> None:
    ws = workspace(repo)
    sha = ws.commit_files(ws.baseline_commit(), {"removed.py": None}, "delete")
    assert "removed.py" not in ws.list_files(sha)
    assert ws.files_at(sha, ["train.py"])["train.py"].startswith("LR = 0.1")
    # Emptied folders disappear and new nested ones appear, as git's own index would make them.
    nested = ws.commit_files(sha, {"data/readme.txt": None, "a/b/c.py": "C = 1\n"}, "nested")
    index = repo / ".git" / "check-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "read-tree", sha], cwd=repo, env=env, check=True)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input="C = 1\n", text=True, capture_output=True
    ).stdout.strip()
    subprocess.run(["git", "update-index", "--force-remove", "data/readme.txt"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},a/b/c.py"], cwd=repo, env=env)
    expected = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True, text=True).stdout
    index.unlink()
    assert sh(repo, "rev-parse", f"{nested}^{{tree}}") == expected.strip()
    assert "data/readme.txt" not in ws.list_files(nested) and "a/b/c.py" in ws.list_files(nested)


def test_diff_reads_back_as_edits(repo: Path, tmp_path: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    files = {"train.py": "LR = 0.3\n", "models/net.py": "class Net: ...\n", "removed.py": None}
    sha = ws.commit_files(base, files, "edit")
    text = ws.diff(base, sha)
    assert text.startswith("diff --git a/models/net.py b/models/net.py")
    copy = ws.checkout(1, base)
    assert apply_edits(copy, parse_edits(text), editable=["**"], protected=[]) == [
        "models/net.py",
        "removed.py",
        "train.py",
    ]
    assert ws.files_at(sha, ["**/*.py"]) == {
        "evaluate.py": "def score(x):\n    return x\n",
        "models/net.py": "class Net: ...\n",
        "train.py": "LR = 0.3\n",
    }
    assert ws.files_at(sha, ["nothing/*"]) == {}


def test_paths_with_spaces_and_unicode(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = ws.commit_files(base, {"my dir/modèle ü.py": "X = 1\n"}, "unicode")
    assert ws.files_at(sha, ["my dir/*"]) == {"my dir/modèle ü.py": "X = 1\n"}
    copy = ws.checkout(1, base)
    changed = apply_edits(copy, parse_edits(ws.diff(base, sha)), editable=["my dir/**"], protected=[])
    assert changed == ["my dir/modèle ü.py"]
    assert ws.apply_to_user_checkout(sha, base, editable=["**"]) == ["my dir/modèle ü.py"]
    assert (repo / "my dir/modèle ü.py").read_text() == "X = 1\n"
