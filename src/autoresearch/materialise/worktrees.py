"""Reusable detached worktrees, one per slot, written by autoresearch from raw blobs.

Each slot's folder holds exactly one commit at a time (`checkout`); what a run left there (untracked,
ignored or changed files, symbolic links) never survives into the next experiment, and leftovers of a
crash make the slot start afresh.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from autoresearch.materialise.checkout import Manifest, changes, materialise, read_file, write_file
from autoresearch.materialise.git import GitError, git
from autoresearch.materialise.git_objects import GitObjects


class Worktrees(GitObjects):
    """The repository's objects, and a worktree per slot under WORKTREES_DIR (relative to its root)."""

    def __init__(self, repo_root: Path, worktrees_dir: Path) -> None:
        super().__init__(repo_root)
        self.worktrees_dir = (self.root / worktrees_dir).resolve()
        self._manifests: dict[int, Manifest] = {}  # slot -> what this process last wrote there

    def checkout(self, slot: int, commit: str) -> Path:
        """A clean detached worktree holding exactly `commit` in worktrees_dir/<slot>, reused from call to call.

        The files are written by autoresearch from raw blobs (see `checkout.py`): no filter, attribute or
        hook of the repository applies, and nothing a run left behind (untracked, ignored or changed
        files, symbolic links) survives. The worktree's HEAD and index follow, for git commands the
        experiment runs itself. Leftovers of a crash (stale locks, a directory git no longer knows, a
        registered worktree whose directory is gone, a replaced `.git` file) make it start afresh.
        """
        path = self.worktrees_dir / str(slot)
        commit = self._commit_id(commit)
        entries = self.tree(commit)
        admin = self._admin(path)
        if admin is None:
            admin = self._recreate(path, commit)
            self._manifests.pop(slot, None)
        manifest = self._manifests.setdefault(slot, Manifest())
        try:
            materialise(path, entries, manifest, self._stream_blobs, keep=(".git",))
        except OSError:
            # Something the run left cannot be cleared in place (permissions, a busy mount): start over.
            admin = self._recreate(path, commit)
            manifest = self._manifests[slot] = Manifest()
            materialise(path, entries, manifest, self._stream_blobs, keep=(".git",))
        for name in ("index.lock", "HEAD.lock"):  # only this slot's owner uses them: left by a crash
            (admin / name).unlink(missing_ok=True)
        write_file(admin, "HEAD", f"{commit}\n".encode())  # detached at the commit, as `checkout --detach`
        git(self.root, f"--git-dir={admin}", "read-tree", commit)
        return path

    def worktree_changes(self, slot: int, commit: str) -> dict[str, str]:
        """How slot's worktree differs from COMMIT, read without git (see `checkout.changes`)."""
        path = self.worktrees_dir / str(slot)
        return changes(path, self.tree(commit), self._manifests.get(slot, Manifest()), keep=(".git",))

    def remove_worktrees(self) -> None:
        """Delete every slot's worktree (e.g. when a study is finished)."""
        if self.worktrees_dir.exists():
            shutil.rmtree(self.worktrees_dir)
        with self._worktree_admin():
            git(self.root, "worktree", "prune")
        self._manifests.clear()

    def _admin(self, path: Path) -> Path | None:
        """The git admin folder of our worktree at PATH, or None if PATH is not one (any more).

        Read without running git in PATH: a run may have replaced its `.git` file to point git at a
        repository (and config) of its own.
        """
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return None
        except OSError:
            return None
        data = read_file(path, ".git")
        if data is None or not data.startswith(b"gitdir: "):
            return None
        admin = Path(os.fsdecode(data[8:].strip()))
        if admin.parent != self.common_dir / "worktrees" or not admin.is_dir() or admin.is_symlink():
            return None
        back = read_file(admin, "gitdir")
        if back is None or Path(os.fsdecode(back.strip())) != path / ".git":
            return None
        return admin

    @contextlib.contextmanager
    def _worktree_admin(self) -> Iterator[None]:
        """One `worktree add` / `prune` at a time per repository, across threads and processes.

        A prune running while another worktree is being added (the agent proposer's and an
        experiment's, or two studies in one repository) removes the half-made one under git's feet.
        """
        fd = os.open(
            self.common_dir / "autoresearch-worktrees.lock",
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # per open file: threads of one process exclude each other too
            yield
        finally:
            os.close(fd)

    def _recreate(self, path: Path, commit: str) -> Path:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._worktree_admin():
            git(self.root, "worktree", "prune")
            # --no-checkout: git writes no file; `materialise` does, from raw blobs.
            git(self.root, "worktree", "add", "-q", "-f", "--no-checkout", "--detach", str(path), commit)
        admin = self._admin(path)
        if admin is None:
            raise GitError(f"git did not register the worktree {path} as expected")
        return admin
