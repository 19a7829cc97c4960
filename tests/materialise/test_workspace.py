"""One study's git workspace: baselines, the experiment cycle, the study branch, refs and apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoresearch.materialise.git import GitError
from autoresearch.materialise.workspace import GitWorkspace
from tests.materialise.conftest import STUDY, make_dirty, run_experiment, sh, snapshot, workspace


def test_baseline_with_uncommitted_work_leaves_the_user_untouched(repo: Path) -> None:
    make_dirty(repo)
    ws = workspace(repo)
    before = snapshot(repo)
    head = sh(repo, "rev-parse", "HEAD")
    assert ws.baseline_commit(include_uncommitted=False) == head
    base = ws.baseline_commit(include_uncommitted=True)
    assert base != head
    assert sh(repo, "rev-parse", f"{base}^") == head
    assert sh(repo, "rev-parse", f"refs/autoresearch/{STUDY}/baseline") == base
    assert sorted(ws.list_files(base)) == [
        ".gitignore",
        "data/readme.txt",
        "evaluate.py",
        "notes.txt",
        "train.py",
    ]
    files = ws.files_at(base, ["*.py", "notes.txt"])
    assert "DEPTH = 8" in files["train.py"]
    assert files["evaluate.py"] == "def score(x):\n    return 2 * x\n"
    assert files["notes.txt"] == "untracked notes\n"
    assert ws.files_at(base, ["data/**"]) == {"data/readme.txt": "data lives here\n"}  # stash not included
    assert snapshot(repo) == before
    assert sh(repo, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_baseline_sees_an_edit_made_in_the_second_of_the_commit(tmp_path: Path) -> None:
    # Git trusts an index entry whose size and times match the file, unless the entry is as recent as the
    # index itself ("racily clean"): then it reads the file. An edit of the same size in the same second
    # as the commit is caught only that way (here that second is set by hand, and ctime, which a test
    # cannot set, is not compared). The baseline's temporary index must keep the index's own time.
    repo = tmp_path / "repo"
    repo.mkdir()
    sh(repo, "init", "-q", "-b", "main")
    sh(repo, "config", "core.trustctime", "false")
    second = 1_700_000_000
    (repo / "evaluate.py").write_text("print('loss: 1')\n")
    os.utime(repo / "evaluate.py", (second, second))
    sh(repo, "add", "-A")
    sh(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init")
    os.utime(repo / ".git" / "index", (second, second))
    (repo / "evaluate.py").write_text("print('loss: 2')\n")  # same size, same second
    os.utime(repo / "evaluate.py", (second, second))
    assert sh(repo, "--no-optional-locks", "status", "--porcelain") == "M evaluate.py"  # what git sees
    ws = workspace(repo)
    base = ws.baseline_commit(include_uncommitted=True)
    assert ws.files_at(base, ["evaluate.py"]) == {"evaluate.py": "print('loss: 2')\n"}


def test_baseline_of_a_clean_checkout_is_head(repo: Path) -> None:
    ws = workspace(repo)
    assert ws.baseline_commit(include_uncommitted=True) == sh(repo, "rev-parse", "HEAD")


def test_experiment_cycle_never_touches_the_user_checkout(repo: Path) -> None:
    make_dirty(repo)
    ws = workspace(repo)
    base = ws.baseline_commit(include_uncommitted=True)
    before = snapshot(repo)
    sha = run_experiment(ws, base, 1)
    assert sh(repo, "rev-parse", f"refs/autoresearch/{STUDY}/1") == sha
    assert sh(repo, "rev-parse", f"{sha}^") == base
    # Only the edited file is in the commit; the experiment's output file is not.
    assert sh(repo, "diff", "--name-only", base, sha) == "train.py"
    assert "LR = 0.05" in ws.files_at(sha, ["train.py"])["train.py"]
    ws.move_best(sha)
    assert sh(repo, "rev-parse", f"refs/heads/autoresearch/{STUDY}") == sha
    second = run_experiment(ws, sha, 2, "train.py\n<<<<<<< SEARCH\nLR = 0.05\n=======\nLR = 0.01\n>>>>>>> REPLACE\n")
    ws.move_best(second)
    assert ws.refs() == {"baseline": base, "1": sha, "2": second}
    assert snapshot(repo) == before
    assert sh(repo, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_move_best_refuses_when_the_branch_is_checked_out(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    first = run_experiment(ws, base, 1)
    ws.move_best(first)
    sh(repo, "switch", "-q", f"autoresearch/{STUDY}")
    before = snapshot(repo)
    with pytest.raises(GitError, match=rf"branch autoresearch/{STUDY} is checked out in {repo}"):
        ws.move_best(base)
    assert sh(repo, "rev-parse", f"autoresearch/{STUDY}") == first
    assert snapshot(repo) == before


def test_apply_to_user_checkout(repo: Path) -> None:
    (repo / "notes.txt").write_text("untouched untracked file\n")
    (repo / "evaluate.py").write_text("dirty but not touched by the candidate\n")
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = run_experiment(ws, base, 1)
    index = (repo / ".git/index").read_bytes()
    assert ws.apply_to_user_checkout(sha, base, editable=["**"]) == ["train.py"]
    assert (repo / "train.py").read_text().startswith("LR = 0.05")
    assert (repo / "evaluate.py").read_text() == "dirty but not touched by the candidate\n"
    assert (repo / ".git/index").read_bytes() == index
    assert sh(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_apply_refuses_over_uncommitted_changes(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = run_experiment(ws, base, 1)
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# my own work\n")
    before = snapshot(repo)
    with pytest.raises(GitError, match=r"uncommitted changes or are in the way: train.py\. .*nothing was changed"):
        ws.apply_to_user_checkout(sha, base, editable=["**"])
    assert snapshot(repo) == before


def test_apply_refuses_over_files_changed_since_the_baseline(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = run_experiment(ws, base, 1)
    (repo / "train.py").write_text("LR = 1\n")
    sh(repo, "commit", "-q", "-am", "user moved on")
    before = snapshot(repo)
    with pytest.raises(GitError, match=r"train\.py changed in your HEAD since the study.s baseline"):
        ws.apply_to_user_checkout(sha, base, editable=["**"])
    assert snapshot(repo) == before


def test_apply_refuses_to_overwrite_an_ignored_file(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = ws.commit_files(base, {"cache/table.txt": "from the candidate\n"}, "add ignored path")
    (repo / "cache").mkdir()
    (repo / "cache/table.txt").write_text("user's ignored file\n")
    with pytest.raises(GitError, match=r"in the way: cache/table\.txt"):
        ws.apply_to_user_checkout(sha, base, editable=["**"])
    assert (repo / "cache/table.txt").read_text() == "user's ignored file\n"


@pytest.mark.parametrize("name", ["bad name", "a..b", ".hidden", "x/y", "z.lock"])
def test_study_names_that_cannot_be_refs(repo: Path, name: str) -> None:
    with pytest.raises(GitError, match="cannot be used in a git ref name"):
        GitWorkspace(repo, name, repo / "wt")


def test_repository_that_is_itself_a_linked_worktree(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    sh(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    (linked / "train.py").write_text("LR = 0.1\nDEPTH = 2\n")
    ws = workspace(linked)
    before = snapshot(repo)
    base = ws.baseline_commit(include_uncommitted=True)
    sha = run_experiment(ws, base, 1)
    ws.move_best(sha)
    assert ws.files_at(sha, ["train.py"]) == {"train.py": "LR = 0.05\nDEPTH = 2\n"}
    assert ".autoresearch/" in (repo / ".git/info/exclude").read_text()  # shared by all worktrees
    assert sh(linked, "status", "--porcelain") == "M train.py"
    assert snapshot(repo) == before


def test_apply_keeps_the_executable_bit(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = ws.commit_files(base, {"run.sh": "#!/bin/sh\necho hi\n"}, "script", modes={"run.sh": "100755"})
    assert ws.apply_to_user_checkout(sha, base, editable=["**"]) == ["run.sh"]
    assert os.access(repo / "run.sh", os.X_OK)
    assert sh(repo, "status", "--porcelain") == "?? run.sh"
