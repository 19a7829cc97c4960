"""The git autoresearch runs, and the objects it reads: a planted `git` and rewritten objects change nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.materialise import git as gitmodule
from autoresearch.materialise.git import GitError, ObjectTampered, git_executable
from autoresearch.materialise.workspace import GitWorkspace
from tests.materialise.conftest import STUDY, make_repo, sh


@pytest.fixture
def fresh_resolution() -> Iterator[None]:
    """git_executable is resolved once per process: tests that change how it resolves start afresh."""
    git_executable.cache_clear()
    yield
    git_executable.cache_clear()


def rewrite_object(repo: Path, oid: str, kind: bytes, content: bytes) -> None:
    """Replace a loose object's content in place, keeping its name (what a run under kind none can do)."""
    path = repo / ".git" / "objects" / oid[:2] / oid[2:]
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(zlib.compress(b"%s %d\0" % (kind, len(content)) + content))


def test_a_git_planted_on_path_never_runs(
    tmp_path: Path, fresh_resolution: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    planted = tmp_path / "venv-bin"
    planted.mkdir()
    marker = tmp_path / "planted-git-ran"
    (planted / "git").write_text(f'#!/bin/sh\necho ran >> {marker}\nexec /usr/bin/git "$@"\n')
    (planted / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{planted}{os.pathsep}{os.environ['PATH']}")
    workspace = GitWorkspace(repo, STUDY, Path(".autoresearch/worktrees"))
    sha = workspace.commit_files(workspace.head(), {"train.py": "LR = 0.2\n"}, "candidate", experiment_id=1)
    workspace.checkout(0, sha)
    assert workspace.diff(workspace.head(), sha).count("LR = 0.2") == 1
    assert git_executable() in gitmodule._TRUSTED_GIT
    assert not marker.exists(), "autoresearch ran the git planted on PATH"


def test_git_named_explicitly_must_be_absolute(fresh_resolution: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_GIT", "git")
    with pytest.raises(GitError, match="AUTORESEARCH_GIT='git' is not an absolute path"):
        git_executable()
    monkeypatch.setenv("AUTORESEARCH_GIT", "/usr/bin/git")
    git_executable.cache_clear()
    assert git_executable() == "/usr/bin/git"


def test_git_runs_with_a_path_of_system_folders_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    path = gitmodule.git_environment()["PATH"].split(os.pathsep)
    assert str(tmp_path) not in path
    assert path[0] == os.path.dirname(git_executable())


def test_a_rewritten_blob_is_detected_wherever_it_is_read(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    workspace = GitWorkspace(repo, STUDY, Path(".autoresearch/worktrees"))
    sha = workspace.commit_files(workspace.head(), {"train.py": "LR = 0.2\n"}, "candidate", experiment_id=1)
    workspace.verify_commit(sha)
    oid = workspace.tree(sha)["train.py"][1]
    rewrite_object(repo, oid, b"blob", b"LR = 99  # not what was measured\n")
    assert "not what was measured" in sh(repo, "show", f"{sha}:train.py")  # git itself reads it as it is
    with pytest.raises(ObjectTampered, match=f"the git object {oid} \\(blob\\) .* was rewritten"):
        workspace.verify_commit(sha)
    with pytest.raises(ObjectTampered):
        workspace.blobs(sha, ["train.py"])
    with pytest.raises(ObjectTampered):
        workspace.checkout(0, sha)


def test_a_rewritten_tree_is_detected(tmp_path: Path) -> None:
    """A tree pointing at other (valid) blobs: every blob checks out, the tree itself does not."""
    repo = make_repo(tmp_path / "repo")
    workspace = GitWorkspace(repo, STUDY, Path(".autoresearch/worktrees"))
    sha = workspace.commit_files(workspace.head(), {"train.py": "LR = 0.2\n"}, "candidate", experiment_id=1)
    other = workspace.commit_files(workspace.head(), {"train.py": "LR = 99\n"}, "other")
    tree, forged = (sh(repo, "rev-parse", f"{commit}^{{tree}}") for commit in (sha, other))
    body = subprocess.run(["git", "cat-file", "tree", forged], cwd=repo, capture_output=True, check=True).stdout
    unpacked = repo / ".git" / "objects" / tree[:2] / tree[2:]
    assert unpacked.exists()
    rewrite_object(repo, tree, b"tree", body)
    with pytest.raises(ObjectTampered, match=f"{tree} \\(tree\\)"):
        workspace.verify_commit(sha)


def test_only_new_checks_what_a_commit_adds_to_its_parent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    workspace = GitWorkspace(repo, STUDY, Path(".autoresearch/worktrees"))
    sha = workspace.commit_files(workspace.head(), {"train.py": "LR = 0.2\n"}, "candidate", experiment_id=1)
    inherited = workspace.tree(sha)["evaluate.py"][1]  # the parent's blob, unchanged by the candidate
    rewrite_object(repo, inherited, b"blob", b"def score(x):\n    return 0\n")
    workspace.verify_commit(sha, only_new=True)  # not among what the candidate added
    with pytest.raises(ObjectTampered, match=inherited):
        workspace.verify_commit(sha)
    added = workspace.tree(sha)["train.py"][1]
    rewrite_object(repo, added, b"blob", b"LR = 99\n")
    with pytest.raises(ObjectTampered, match=added):
        workspace.verify_commit(sha, only_new=True)


def test_without_a_system_git_path_is_searched_by_absolute_folders_only(
    tmp_path: Path, fresh_resolution: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitmodule, "_TRUSTED_GIT", ())
    here = tmp_path / "cwd"
    here.mkdir()
    (here / "git").write_text("#!/bin/sh\nexit 0\n")
    (here / "git").chmod(0o755)
    installed = tmp_path / "conda-bin"
    installed.mkdir()
    (installed / "git").symlink_to("/usr/bin/git")
    monkeypatch.chdir(here)
    monkeypatch.setenv("PATH", f".{os.pathsep}{installed}")
    assert git_executable() == str(installed / "git")
