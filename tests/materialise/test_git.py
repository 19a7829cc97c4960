"""Running git: no identity, hook or environment of the user's reaches it; the exclude file; protected files' hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.materialise.git import ensure_excluded, hash_files
from tests.materialise.conftest import run_experiment, sh, workspace


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
