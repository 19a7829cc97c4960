"""Git workspace: baselines, reusable worktrees, commits, refs, apply; all against real repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from autoresearch.materialise.edits import apply_edits, parse_edits, plan_edits
from autoresearch.materialise.git import GitError, GitWorkspace, ensure_excluded, hash_files

STUDY = "digits"


def sh(cwd: Path, *args: str) -> str:
    """Run git as a user would (with an identity of their own)."""
    result = subprocess.run(
        ["git", "-c", "user.name=User", "-c", "user.email=user@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_repo(root: Path) -> Path:
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    files = {
        "train.py": "LR = 0.1\nDEPTH = 4\n\n\ndef train():\n    return LR * DEPTH\n",
        "evaluate.py": "def score(x):\n    return x\n",
        "data/readme.txt": "data lives here\n",
        "removed.py": "old = 1\n",
        ".gitignore": "*.log\ncache/\n",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    sh(root, "add", "-A")
    sh(root, "commit", "-q", "-m", "initial")
    return root


def make_dirty(root: Path) -> None:
    """Uncommitted work of every kind, plus a stash."""
    (root / "data/readme.txt").write_text("stashed change\n")
    sh(root, "stash", "-q")
    (root / "train.py").write_text((root / "train.py").read_text().replace("DEPTH = 4", "DEPTH = 8"))
    (root / "evaluate.py").write_text("def score(x):\n    return 2 * x\n")
    sh(root, "add", "evaluate.py")
    (root / "notes.txt").write_text("untracked notes\n")
    (root / "run.log").write_text("ignored log\n")
    (root / "removed.py").unlink()


def snapshot(root: Path) -> dict[str, object]:
    """Everything of the user's that autoresearch must not change (read without running `git status`)."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in (".git", ".autoresearch") or not path.is_file():
            continue
        files[rel] = (path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns)
    user_refs = [
        line
        for line in sh(root, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
        if not line.startswith(("refs/autoresearch/", "refs/heads/autoresearch/"))
    ]
    return {
        "files": files,
        "index": (root / ".git/index").read_bytes(),
        "HEAD": (root / ".git/HEAD").read_text(),
        "refs": user_refs,
        "stash": sh(root, "stash", "list"),
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def workspace(repo: Path) -> GitWorkspace:
    return GitWorkspace(repo, STUDY, Path(".autoresearch") / STUDY / "worktrees")


SR_EDIT = "train.py\n<<<<<<< SEARCH\nLR = 0.1\n=======\nLR = 0.05\n>>>>>>> REPLACE\n"


def run_experiment(ws: GitWorkspace, parent: str, experiment_id: int, edit: str = SR_EDIT) -> str:
    """Commit the edit on PARENT (before the run, as code mode does), then run in a checkout of it."""
    files = ws.files_at(parent, ["train.py"])
    planned = plan_edits(parse_edits(edit), files.get, editable=["train.py"], protected=["evaluate.py"])
    sha = ws.commit_files(parent, planned, f"experiment {experiment_id}", experiment_id=experiment_id)
    tree = ws.checkout(0, sha)
    (tree / "output.txt").write_text("created by the experiment, not editable\n")
    return sha


# ---------------------------------------------------------------------------------------- baseline


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


def test_baseline_of_a_clean_checkout_is_head(repo: Path) -> None:
    ws = workspace(repo)
    assert ws.baseline_commit(include_uncommitted=True) == sh(repo, "rev-parse", "HEAD")


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


# ---------------------------------------------------------------------------------------- experiments


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


def test_no_identity_and_hooks_are_not_run(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = repo / ".git/hooks"
    for hook in ("pre-commit", "post-checkout", "commit-msg", "post-commit", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\necho ran >> {tmp_path}/hook-{hook}\nexit 1\n")
        (hooks / hook).chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # must not redirect our git calls
    ws = workspace(repo)
    sha = run_experiment(ws, ws.baseline_commit(include_uncommitted=True), 1)
    monkeypatch.delenv("GIT_DIR")
    assert sh(repo, "log", "-1", "--format=%an <%ae>", sha) == "autoresearch <autoresearch@localhost>"
    assert not list(tmp_path.glob("hook-*"))


# ---------------------------------------------------------------------------------------- reading


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


# ---------------------------------------------------------------------------------------- apply


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


# ---------------------------------------------------------------------------------------- helpers


def test_hash_files_detects_changes(repo: Path) -> None:
    patterns = ["evaluate.py", "data/", "**/*.cfg", "missing.py"]
    before = hash_files(repo, patterns)
    assert set(before) == {"evaluate.py", "data/readme.txt", "**/*.cfg", "missing.py"}
    assert before["missing.py"] == before["**/*.cfg"] == "missing"
    assert hash_files(repo, patterns) == before
    (repo / "data/readme.txt").write_text("tampered\n")
    (repo / "data/extra.cfg").write_text("new\n")
    after = hash_files(repo, patterns)
    assert after["data/readme.txt"] != before["data/readme.txt"]
    assert "data/extra.cfg" in after and "**/*.cfg" not in after


def test_ensure_excluded_is_idempotent(repo: Path) -> None:
    ensure_excluded(repo)
    ensure_excluded(repo)
    workspace(repo)
    exclude = (repo / ".git/info/exclude").read_text()
    assert exclude.count(".autoresearch/") == 1
    (repo / ".autoresearch").mkdir()
    (repo / ".autoresearch/store.db").write_text("x")
    assert sh(repo, "status", "--porcelain") == ""


def test_ensure_excluded_never_writes_through_a_link(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "bashrc"
    target.write_text("precious\n")
    exclude = repo / ".git/info/exclude"
    exclude.unlink(missing_ok=True)
    exclude.symlink_to(target)
    ensure_excluded(repo)
    assert target.read_text() == "precious\n"
    assert not exclude.is_symlink() and exclude.read_text() == ".autoresearch/\n"


def test_worktrees_outside_autoresearch_dir_are_excluded(repo: Path) -> None:
    ws = GitWorkspace(repo, STUDY, Path("scratch/wt"))
    ws.checkout(0, ws.baseline_commit())
    assert sh(repo, "status", "--porcelain") == ""
    assert ws.baseline_commit(include_uncommitted=True) == sh(repo, "rev-parse", "HEAD")
    assert os.path.isdir(repo / "scratch/wt/0")


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


def test_apply_keeps_the_executable_bit(repo: Path) -> None:
    ws = workspace(repo)
    base = ws.baseline_commit()
    sha = ws.commit_files(base, {"run.sh": "#!/bin/sh\necho hi\n"}, "script", modes={"run.sh": "100755"})
    assert ws.apply_to_user_checkout(sha, base, editable=["**"]) == ["run.sh"]
    assert os.access(repo / "run.sh", os.X_OK)
    assert sh(repo, "status", "--porcelain") == "?? run.sh"


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
