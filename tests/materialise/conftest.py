"""Real git repositories for the materialise tests, and a study's workspace in one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autoresearch.materialise.edits import parse_edits, plan_edits
from autoresearch.materialise.workspace import GitWorkspace

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
