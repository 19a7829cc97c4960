"""One study's git workspace: its refs, its baseline, the study branch, and `apply`.

Candidates live in reusable detached worktrees under `worktrees_dir/<slot>` (`worktrees.py`); each
experiment's commit is kept alive by `refs/autoresearch/<study>/<experiment_id>`, the best so far is the
branch `autoresearch/<study>`, and a search policy's lineage heads are `refs/autoresearch/<study>/heads/<name>`.
The user's branch, index, working tree and stash are never written to, except by `apply_to_user_checkout`,
which the user asks for.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from autoresearch.materialise.checkout import read_file, write_file
from autoresearch.materialise.checkout import state as path_state
from autoresearch.materialise.edits import is_git_path
from autoresearch.materialise.git import AlreadyApplied, GitError, ensure_excluded, git, git_text, safe_revision
from autoresearch.materialise.globs import matches_any
from autoresearch.materialise.worktrees import Worktrees


class GitWorkspace(Worktrees):
    """Worktrees, commits and refs of one study in one repository."""

    def __init__(self, repo_root: Path, study: str, worktrees_dir: Path) -> None:
        if (
            not study
            or study.startswith(".")
            or study.endswith(".lock")
            or any(char in study for char in " ~^:?*[\\/")
            or ".." in study
        ):
            raise GitError(f"study name {study!r} cannot be used in a git ref name")
        super().__init__(repo_root, worktrees_dir)
        self.study = study
        self.branch = f"autoresearch/{study}"
        self.ref_prefix = f"refs/autoresearch/{study}/"
        ensure_excluded(self.root)
        if self.worktrees_dir.is_relative_to(self.root):
            # Worktrees inside the repository must be invisible to `git add -A` and `git status`.
            rel = self.worktrees_dir.relative_to(self.root).as_posix()
            if not rel.startswith(".autoresearch/"):
                ensure_excluded(self.root, f"/{rel}/")

    # ------------------------------------------------------------------------------------ commits and refs

    def baseline_commit(self, include_uncommitted: bool = False) -> str:
        """HEAD, or a commit of HEAD plus the user's uncommitted and untracked (not ignored) files.

        The second is built in a temporary index and kept alive by `refs/autoresearch/<study>/baseline`;
        the user's branch, index, working tree and stash are left alone.
        """
        if not include_uncommitted:
            return self.head()
        try:
            head: str | None = self.head()
        except GitError:
            head = None  # an unborn branch: the baseline is a root commit of the working tree
        with tempfile.TemporaryDirectory(prefix="autoresearch-index-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            real_index = Path(git_text(self.root, "rev-parse", "--path-format=absolute", "--git-path", "index"))
            if real_index.exists():
                # A copy of the user's index carries its stat cache, so only changed files are re-hashed;
                # and its time (copy2), by which git tells the entries it must not trust (an edit of the
                # same size in the second of the last `git add` matches the cache but for that time).
                shutil.copy2(real_index, env["GIT_INDEX_FILE"])
            elif head:
                git(self.root, "read-tree", head, env=env)
            # Writing an index re-reads racily clean files through their filters: both calls go without.
            no_filters = self.no_filters()
            git(self.root, *no_filters, "add", "-A", "--", ".", env=env)
            tree = git_text(self.root, *no_filters, "write-tree", env=env)
        if head and tree == git_text(self.root, "rev-parse", f"{head}^{{tree}}"):
            return head
        parents = ["-p", head] if head else []
        message = "autoresearch: baseline with uncommitted changes"
        sha = git_text(self.root, "commit-tree", tree, *parents, "-m", message)
        self.set_ref("baseline", sha)
        return sha

    def commit_files(
        self,
        parent: str,
        files: Mapping[str, bytes | str | None],
        message: str,
        experiment_id: int | str | None = None,
        modes: Mapping[str, str] | None = None,
    ) -> str:
        """`write_commit`; with EXPERIMENT_ID, the commit is also kept alive by
        `refs/autoresearch/<study>/<experiment_id>`."""
        sha = self.write_commit(parent, files, message, modes)
        if experiment_id is not None:
            self.set_ref(experiment_id, sha)
        return sha

    def ref(self, experiment_id: int | str) -> str:
        name = str(experiment_id)
        if not name or name.startswith(".") or any(char in name for char in " ~^:?*[\\/"):
            raise GitError(f"experiment id {name!r} cannot be used in a git ref name")
        return self.ref_prefix + name

    def set_ref(self, experiment_id: int | str, sha: str) -> None:
        git(self.root, "update-ref", self.ref(experiment_id), safe_revision(sha))

    def set_head(self, name: str, sha: str) -> None:
        """Keep a lineage's head reachable as `refs/autoresearch/<study>/heads/<name>` (a search policy's)."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise GitError(f"lineage name {name!r} cannot be used in a git ref name")
        git(self.root, "update-ref", f"{self.ref_prefix}heads/{name}", safe_revision(sha))

    def refs(self) -> dict[str, str]:
        """{experiment_id: sha} of every ref this study has recorded."""
        out = git_text(self.root, "for-each-ref", "--format=%(refname) %(objectname)", self.ref_prefix)
        pairs = (line.split(" ") for line in out.splitlines())
        return {ref.removeprefix(self.ref_prefix): sha for ref, sha in pairs}

    # ------------------------------------------------------------------------------------ the study branch

    def branch_commit(self) -> str | None:
        """The commit the study branch `autoresearch/<study>` points at, or None when it does not exist."""
        try:
            return git_text(self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}^{{commit}}")
        except GitError:
            return None

    def move_best(self, sha: str) -> None:
        """Point the branch `autoresearch/<study>` at sha, unless some checkout has it checked out."""
        full = f"refs/heads/{self.branch}"
        listing = git_text(self.root, "worktree", "list", "--porcelain")
        path = None
        for line in listing.splitlines():
            if line.startswith("worktree "):
                path = line.removeprefix("worktree ")
            elif line == f"branch {full}":
                raise GitError(
                    f"the branch {self.branch} is checked out in {path}; autoresearch will not move a "
                    f"branch under a checkout. Switch that checkout to another branch "
                    f"(`git -C {path} switch -`) and run again"
                )
        commit = git_text(self.root, "rev-parse", "--verify", f"{safe_revision(sha)}^{{commit}}")
        git(self.root, "update-ref", "-m", f"autoresearch: best of {self.study}", full, commit)

    # ------------------------------------------------------------------------------------ applying

    def apply_to_user_checkout(
        self, sha: str, base_sha: str, editable: list[str], protected: list[str] | None = None
    ) -> list[str]:
        """Write the changes base_sha..sha into the user's working tree (not the index); returns paths.

        The content comes from the stored commit's blobs. Refuses, changing nothing, when the candidate
        changes a path that is not EDITABLE (repository globs), is PROTECTED or `.git*`, or is not a
        regular file on either side; when a file it would touch differs from the baseline (uncommitted
        changes), is in the way where the candidate creates it, is or lies under a symbolic link in the
        user's checkout, or changed in the user's HEAD since base_sha. Links are never followed.
        """
        paths = self.changed_paths(base_sha, sha)
        if not paths:
            return []
        old, new = self._modes(base_sha, paths), self._modes(sha, paths)
        regular = ("100644", "100755")
        refused = [
            p
            for p in paths
            if is_git_path(p)
            or not matches_any(p, editable)
            or matches_any(p, protected or [])
            or any(side.get(p, "100644") not in regular for side in (old, new))
        ]
        if refused:
            raise GitError(
                f"not applying: the candidate changes files that are not editable regular files: "
                f"{', '.join(refused)} (editable: {', '.join(editable) or '(none)'}). Nothing was changed"
            )
        moved = self.changed_paths(base_sha, self.head())
        moved = [p for p in paths if p in set(moved)]
        if moved:
            raise GitError(
                f"not applying: {', '.join(moved)} changed in your HEAD since the study's baseline "
                f"{base_sha[:12]}; merge the branch {self.branch} instead (`git merge {self.branch}`). "
                "Nothing was changed"
            )
        before = self.blobs(base_sha, paths)
        linked = [p for p in paths if path_state(self.root, p) in ("link", "blocked")]
        if linked:
            raise GitError(
                f"not applying: {', '.join(linked)} is or lies under a symbolic link in your checkout; "
                "autoresearch does not write through links. Nothing was changed"
            )
        after = self.blobs(sha, paths)
        if all(read_file(self.root, p) == after.get(p) and path_state(self.root, p) != "other" for p in paths):
            raise AlreadyApplied(paths)  # a second `apply`: the tree holds exactly the candidate's files
        # Compared byte for byte with the baseline, not through `git status` (which would run the
        # repository's filters): anything else is uncommitted work or in the way.
        blocked = [p for p in paths if read_file(self.root, p) != before.get(p) or path_state(self.root, p) == "other"]
        if blocked:
            raise GitError(
                "not applying: these files have uncommitted changes or are in the way: "
                f"{', '.join(blocked)}. Commit or stash them and run again; nothing was changed"
            )
        done: list[str] = []
        try:
            for path in paths:
                write_file(self.root, path, after.get(path), executable=new.get(path) == "100755")
                done.append(path)
        except BaseException:
            for path in reversed(done):  # put back what was there: the baseline's bytes
                write_file(self.root, path, before.get(path), executable=old.get(path) == "100755")
            raise
        return paths
