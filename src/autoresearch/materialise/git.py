"""Git operations for code mode, through the `git` command line.

Candidates live in reusable detached worktrees under `worktrees_dir/<slot>`; each experiment's commit is
kept alive by `refs/autoresearch/<study>/<experiment_id>`, the best so far is the branch
`autoresearch/<study>`, and a search policy's lineage heads are `refs/autoresearch/<study>/heads/<name>`.
The user's branch, index, working tree and stash are never written to, except by `apply_to_user_checkout`,
which the user asks for.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from autoresearch.core.tampered import Tampered
from autoresearch.materialise.checkout import Entry, Manifest, changes, materialise, read_file, write_file
from autoresearch.materialise.checkout import state as path_state
from autoresearch.materialise.edits import is_git_path
from autoresearch.materialise.globs import has_glob, literal_prefix, matches, matches_any, normalize_path

IDENTITY = {
    "GIT_AUTHOR_NAME": "autoresearch",
    "GIT_AUTHOR_EMAIL": "autoresearch@localhost",
    "GIT_COMMITTER_NAME": "autoresearch",
    "GIT_COMMITTER_EMAIL": "autoresearch@localhost",
}
# What git may see of our environment: enough to run, nothing that points it at another repository,
# index, work tree, config, pager, editor, ssh command or replacement objects.
_PASSED_ENV = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT", "LANG")
# Every git call autoresearch makes reads no system or global config and no system attributes; the
# repository's own config cannot run anything: these overrides beat it, and the rest of what could
# execute or transform (filters, textconv, checkout) is never asked of git (see `commit_files`,
# `checkout`). Anyone who can write .git/config (a candidate with sandbox kind "none", an agent)
# therefore changes nothing autoresearch commits, checks out or compares.
_SAFE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",  # refs/replace/ must not swap the blobs we read
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_LITERAL_PATHSPECS": "1",  # paths we pass are file names, never patterns
    "GIT_OPTIONAL_LOCKS": "0",  # reading must not rewrite the user's index to refresh it
    "GIT_PAGER": "cat",
    "LC_ALL": "C",  # stable, parseable messages
}
_CONFIG = (
    "core.hooksPath=/dev/null",  # never run hooks (reference-transaction, post-checkout, ...)
    "core.fsmonitor=false",  # a command git would run on index operations
    "core.attributesFile=/dev/null",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.untrackedCache=false",
    "protocol.allow=never",  # no fetch of any kind (a partial clone's lazy fetch runs remote helpers)
    "gc.auto=0",
    "maintenance.auto=false",
    "commit.gpgsign=false",  # signing could prompt or fail without a key
    "core.quotePath=false",  # keep non-ASCII paths readable in diffs
    "advice.detachedHead=false",
    "diff.noprefix=false",
    "diff.external=",
    "diff.relative=false",
)
_SKIP_DIRS = frozenset({".git", ".autoresearch"})
# Where a system's git lives, in order. Looked up here, never on PATH first: under sandbox kind "none" a
# run can write a `git` into a folder on PATH (a virtual environment's bin/, ~/.local/bin) that the next
# `autoresearch` would otherwise execute.
_TRUSTED_GIT = (
    "/usr/bin/git",
    "/bin/git",
    "/usr/local/bin/git",
    "/opt/homebrew/bin/git",
    "/run/current-system/sw/bin/git",  # NixOS
)
# The PATH git itself runs with (for its own helpers): system folders only, never the caller's.
_TRUSTED_PATH = "/usr/local/bin:/usr/bin:/bin"


class GitError(Exception):
    """A git operation failed or was refused; the message says why and what to do."""


class AlreadyApplied(GitError):
    """The user's working tree already holds exactly the candidate's version of every file it changes."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(f"already applied: {', '.join(paths)}")
        self.paths = paths


class ObjectTampered(GitError, Tampered):
    """An object of the repository no longer hashes to its id: it was rewritten after git wrote it."""


@functools.cache
def git_executable() -> str:
    """The absolute path of the git autoresearch runs, resolved once per process.

    `AUTORESEARCH_GIT` names one explicitly; otherwise the first of the system's usual places; only
    when none has git, PATH (a git installed elsewhere, e.g. by conda), resolved to an absolute path
    at the first git call, before any run, so a `git` planted on PATH later is never executed.
    """
    chosen = os.environ.get("AUTORESEARCH_GIT")
    if chosen:
        if not os.path.isabs(chosen) or not os.access(chosen, os.X_OK) or os.path.isdir(chosen):
            raise GitError(f"AUTORESEARCH_GIT={chosen!r} is not an absolute path to an executable git")
        return chosen
    for candidate in _TRUSTED_GIT:
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    # A relative PATH entry ("", ".") would find a git in whatever folder autoresearch runs from.
    absolute = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(d))
    found = shutil.which("git", path=absolute)
    if found is None:
        raise GitError("git was not found (install it, or name it with AUTORESEARCH_GIT=/path/to/git)")
    return os.path.abspath(found)


def _git_command(*args: str) -> list[str]:
    """`git --no-pager -c ... ARGS` with the git chosen by `git_executable` and every safety override."""
    return [git_executable(), "--no-pager", *(arg for option in _CONFIG for arg in ("-c", option)), *args]


def _environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
    # git runs helpers of its own (from its exec path, then PATH): never from a folder a run could write.
    env["PATH"] = os.pathsep.join([os.path.dirname(git_executable()), _TRUSTED_PATH])
    env.update(IDENTITY)
    env.update(_SAFE_ENV)
    if extra:
        env.update(extra)
    return env


def git(cwd: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
    """Run `git args` in cwd; stdout as bytes, GitError with git's message on failure."""
    result = subprocess.run(_git_command(*args), cwd=cwd, input=input, capture_output=True, env=_environment(env))
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise GitError(f"git {' '.join(args[:3])} failed in {cwd}: {message}")
    return result.stdout


def merge_file(ours: bytes, base: bytes, theirs: bytes) -> bytes | None:
    """The three-way merge of one file's contents (`git merge-file`), or None when it conflicts."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-merge-") as temp:
        names = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            (Path(temp) / name).write_bytes(data)
            names.append(name)
        command = _git_command("merge-file", "-p", *names)
        result = subprocess.run(command, cwd=temp, capture_output=True, env=_environment())
    if result.returncode < 0 or result.returncode > 127:
        raise GitError(f"git merge-file failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout if result.returncode == 0 else None


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):
        pipe.write(data)
        pipe.close()


def _text(cwd: Path, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
    return git(cwd, *args, env=env, input=input).decode("utf-8", "replace").strip()


def _rev(value: str) -> str:
    # A revision starting with "-" would be read as an option.
    if not value or value.startswith("-"):
        raise GitError(f"invalid revision {value!r}")
    return value


def ensure_excluded(repo_root: Path, pattern: str = ".autoresearch/") -> None:
    """Add `pattern` to the repository's `.git/info/exclude` (shared by all its worktrees) once."""
    # Read and replaced without following links: a link planted there is replaced, its target untouched.
    git_dir = Path(_text(repo_root, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    rel = "info/exclude"
    existing = (read_file(git_dir, rel) or b"").decode("utf-8", "surrogateescape")
    if pattern in (line.strip() for line in existing.splitlines()):
        return
    separator = "" if not existing or existing.endswith("\n") else "\n"
    write_file(git_dir, rel, f"{existing}{separator}{pattern}\n".encode("utf-8", "surrogateescape"))


def hash_files(root: Path, patterns: list[str]) -> dict[str, str]:
    """sha256 of every file matching `patterns` under root ("missing" for a path or glob with none).

    Compare the result before and after a run: a changed, added or removed entry means a protected
    file was touched.
    """
    hashes: dict[str, str] = {}
    for pattern in patterns:
        glob = pattern.strip().replace("\\", "/")
        if not has_glob(glob):
            rel = normalize_path(glob)
            if rel is None:
                raise ValueError(f"{pattern!r} is not a path inside the repository")
            if not glob.endswith("/") and not (root / rel).is_dir():
                hashes[rel] = _sha256(root / rel)
                continue
            glob = f"{rel}/**"  # a directory stands for everything below it
        found = {rel: _sha256(root / rel) for rel in _walk(root, literal_prefix(glob)) if matches(rel, glob)}
        hashes.update(found or {pattern: "missing"})
    return hashes


def _sha256(file: Path) -> str:
    if not file.is_file():
        return "missing"
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk(root: Path, prefix: str) -> Iterable[str]:
    base = root / prefix if prefix else root
    for directory, dirs, files in os.walk(base):
        dirs[:] = [name for name in dirs if name not in _SKIP_DIRS]
        rel_dir = Path(directory).relative_to(root).as_posix()
        for name in files:
            yield name if rel_dir == "." else f"{rel_dir}/{name}"


class GitWorkspace:
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
        try:
            top, common = _text(
                Path(repo_root), "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"
            ).splitlines()
        except (GitError, ValueError):
            raise GitError(f"{repo_root} is not inside a git work tree (run `git init` first)") from None
        self.root = Path(top)
        self.common_dir = Path(common).resolve()
        self.study = study
        self.branch = f"autoresearch/{study}"
        self.ref_prefix = f"refs/autoresearch/{study}/"
        self.worktrees_dir = (self.root / worktrees_dir).resolve()
        self._manifests: dict[int, Manifest] = {}  # slot -> what this process last wrote there
        ensure_excluded(self.root)
        if self.worktrees_dir.is_relative_to(self.root):
            # Worktrees inside the repository must be invisible to `git add -A` and `git status`.
            rel = self.worktrees_dir.relative_to(self.root).as_posix()
            if not rel.startswith(".autoresearch/"):
                ensure_excluded(self.root, f"/{rel}/")

    # ------------------------------------------------------------------------------------ commits

    def head(self) -> str:
        try:
            return _text(self.root, "rev-parse", "--verify", "HEAD^{commit}")
        except GitError:
            raise GitError(f"{self.root} has no commits yet; commit your files first") from None

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
            real_index = Path(_text(self.root, "rev-parse", "--path-format=absolute", "--git-path", "index"))
            if real_index.exists():
                # A copy of the user's index carries its stat cache, so only changed files are re-hashed.
                shutil.copyfile(real_index, env["GIT_INDEX_FILE"])
            elif head:
                git(self.root, "read-tree", head, env=env)
            # Writing an index re-reads racily clean files through their filters: both calls go without.
            no_filters = self.no_filters()
            git(self.root, *no_filters, "add", "-A", "--", ".", env=env)
            tree = _text(self.root, *no_filters, "write-tree", env=env)
        if head and tree == _text(self.root, "rev-parse", f"{head}^{{tree}}"):
            return head
        parents = ["-p", head] if head else []
        message = "autoresearch: baseline with uncommitted changes"
        sha = _text(self.root, "commit-tree", tree, *parents, "-m", message)
        self.set_ref("baseline", sha)
        return sha

    def no_filters(self) -> list[str]:
        """`-c` options that switch off every filter driver the repository's config defines.

        `git add` and `write-tree` (used once, for a baseline of uncommitted work, before any candidate
        runs) clean files through the filters their attributes name; with these, none runs and the
        files are taken as they are.
        """
        try:
            names = _text(self.root, "config", "--name-only", "--get-regexp", r"^filter\.")
        except GitError:  # exit status 1: no filter is configured
            return []
        drivers = {key[len("filter.") : key.rindex(".")] for key in names.splitlines() if key.count(".") >= 2}
        options: list[str] = []
        for driver in sorted(drivers):
            for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
                options += ["-c", f"filter.{driver}.{key}={value}"]
        return options

    def commit_files(
        self,
        parent: str,
        files: Mapping[str, bytes | str | None],
        message: str,
        experiment_id: int | str | None = None,
        modes: Mapping[str, str] | None = None,
    ) -> str:
        """A commit of PARENT's tree with FILES (repository paths) replaced by these contents (None: deleted).

        Built from objects alone (`hash-object --no-filters`, `mktree` for each folder on the way,
        `commit-tree`): no work tree, index, filter or hook is involved, so the commit holds exactly these
        bytes. A file keeps PARENT's mode (new files: MODES or 100644). With `experiment_id`, the commit is
        also stored under `refs/autoresearch/<study>/<experiment_id>`.
        """
        parent = self._commit_id(parent)
        changes: dict[str, tuple[str, str] | None] = {}
        for path, content in files.items():
            clean = normalize_path(path)
            if clean is None:
                raise GitError(f"cannot commit paths outside the repository: {path!r}")
            if content is None:
                changes[clean] = None
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = _text(self.root, "hash-object", "-w", "-t", "blob", "--no-filters", "--stdin", input=data)
            mode = (modes or {}).get(clean, "100644")
            if mode not in ("100644", "100755"):  # never a link or a submodule
                raise GitError(f"cannot commit {clean} with mode {mode}: only regular files are committed")
            changes[clean] = (mode, blob)
        tree = self._edit_tree(parent, "", changes) or _text(self.root, "mktree", "-z", input=b"")
        sha = _text(self.root, "commit-tree", tree, "-p", parent, "-m", message)
        if experiment_id is not None:
            self.set_ref(experiment_id, sha)
        return sha

    def _edit_tree(self, base: str | None, where: str, changes: Mapping[str, tuple[str, str] | None]) -> str | None:
        """The id of tree BASE (a tree-ish; None: empty) with CHANGES ({relative path: (mode, blob) or None})
        applied; None when the result is empty. Only the folders on the changed paths are rewritten."""
        entries: dict[str, tuple[str, str, str]] = {}  # name -> (mode, type, id)
        if base is not None:
            out = git(self.root, "ls-tree", "-z", base)
            for line in out.decode("utf-8", "surrogateescape").split("\0"):
                if line:
                    meta, name = line.split("\t", 1)
                    mode, kind, oid = meta.split(" ")
                    entries[name] = (mode, kind, oid)
        below: dict[str, dict[str, tuple[str, str] | None]] = {}
        for path, change in changes.items():
            name, _, rest = path.partition("/")
            if rest:
                below.setdefault(name, {})[rest] = change
            elif change is None:
                entries.pop(name, None)
            else:
                old = entries.get(name)
                mode = old[0] if old is not None and old[0] in ("100644", "100755") else change[0]
                entries[name] = (mode, "blob", change[1])
        for name, inner in below.items():
            old = entries.get(name)
            if old is not None and old[1] != "tree":
                raise GitError(f"{where}{name} is not a folder in the parent commit")
            tree = self._edit_tree(old[2] if old is not None else None, f"{where}{name}/", inner)
            if tree is None:
                entries.pop(name, None)
            else:
                entries[name] = ("040000", "tree", tree)
        if not entries:
            return None
        listing = "".join(f"{mode} {kind} {oid}\t{name}\0" for name, (mode, kind, oid) in entries.items())
        return _text(self.root, "mktree", "-z", input=listing.encode("utf-8", "surrogateescape"))

    def _commit_id(self, rev: str) -> str:
        """REV's full commit id (a full hex id as it is: autoresearch's own refs and store hold those)."""
        if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev):
            return rev
        return _text(self.root, "rev-parse", "--verify", f"{_rev(rev)}^{{commit}}")

    def ref(self, experiment_id: int | str) -> str:
        name = str(experiment_id)
        if not name or name.startswith(".") or any(char in name for char in " ~^:?*[\\/"):
            raise GitError(f"experiment id {name!r} cannot be used in a git ref name")
        return self.ref_prefix + name

    def set_ref(self, experiment_id: int | str, sha: str) -> None:
        git(self.root, "update-ref", self.ref(experiment_id), _rev(sha))

    def set_head(self, name: str, sha: str) -> None:
        """Keep a lineage's head reachable as `refs/autoresearch/<study>/heads/<name>` (a search policy's)."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise GitError(f"lineage name {name!r} cannot be used in a git ref name")
        git(self.root, "update-ref", f"{self.ref_prefix}heads/{name}", _rev(sha))

    def refs(self) -> dict[str, str]:
        """{experiment_id: sha} of every ref this study has recorded."""
        out = _text(self.root, "for-each-ref", "--format=%(refname) %(objectname)", self.ref_prefix)
        pairs = (line.split(" ") for line in out.splitlines())
        return {ref.removeprefix(self.ref_prefix): sha for ref, sha in pairs}

    def branch_commit(self) -> str | None:
        """The commit the study branch `autoresearch/<study>` points at, or None when it does not exist."""
        try:
            return _text(self.root, "rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}^{{commit}}")
        except GitError:
            return None

    def move_best(self, sha: str) -> None:
        """Point the branch `autoresearch/<study>` at sha, unless some checkout has it checked out."""
        full = f"refs/heads/{self.branch}"
        listing = _text(self.root, "worktree", "list", "--porcelain")
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
        commit = _text(self.root, "rev-parse", "--verify", f"{_rev(sha)}^{{commit}}")
        git(self.root, "update-ref", "-m", f"autoresearch: best of {self.study}", full, commit)

    # ------------------------------------------------------------------------------------ worktrees

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

    def tree(self, commit: str) -> dict[str, Entry]:
        """{path: (mode, object id)} of every file, symbolic link and submodule in COMMIT."""
        out = git(self.root, "ls-tree", "-r", "-z", "--full-tree", _rev(commit))
        entries: dict[str, Entry] = {}
        for line in out.decode("utf-8", "surrogateescape").split("\0"):
            if line:
                meta, name = line.split("\t", 1)
                mode, _, oid = meta.split(" ")
                entries[name] = (mode, oid)
        return entries

    def _stream_blobs(self, oids: list[str]) -> Iterator[tuple[str, bytes]]:
        """(id, raw content) of each blob, streamed from one `git cat-file --batch`: no filter applies,
        and each blob is checked against its id (`ObjectTampered`)."""
        for oid, _kind, data in self._stream_objects(oids, b"blob"):
            yield oid, data

    def _stream_objects(self, oids: list[str], kind: bytes | None = None) -> Iterator[tuple[str, bytes, bytes]]:
        """(id, type, raw content) of each object (each of type KIND, when given), from one `git
        cat-file --batch`, every one checked against its id."""
        if not oids:
            return
        process = subprocess.Popen(
            _git_command("cat-file", "--batch"),
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_environment(),
        )
        assert process.stdin is not None and process.stdout is not None
        request = "".join(f"{oid}\n" for oid in oids).encode()
        writer = threading.Thread(target=_feed, args=(process.stdin, request), daemon=True)
        writer.start()
        try:
            for oid in oids:
                header = process.stdout.readline().split()
                if len(header) != 3 or (kind is not None and header[1] != kind):
                    wanted = (kind or b"known object").decode()
                    raise GitError(f"git cat-file: object {oid} is missing or not a {wanted}")
                data = process.stdout.read(int(header[2]))
                process.stdout.read(1)  # the newline after the content
                self._check_object(oid, header[1], data)
                yield oid, header[1], data
        finally:
            process.stdout.close()
            process.kill()
            process.wait()
            writer.join()

    def _check_object(self, oid: str, kind: bytes, data: bytes) -> None:
        """Raise ObjectTampered unless DATA (of type KIND) hashes to OID, as git named it when it wrote it.

        git itself does not re-hash what it reads (`cat-file`, `show`): a loose object rewritten in
        place (a run under sandbox kind "none" can write .git) is read as if it were the original.
        """
        digest = hashlib.sha1 if len(oid) == 40 else hashlib.sha256
        if digest(b"%s %d\0" % (kind, len(data)) + data).hexdigest() != oid:
            raise ObjectTampered(
                f"the git object {oid} ({kind.decode()}) in {self.common_dir / 'objects'} was rewritten: its "
                'content no longer hashes to its id (under sandbox kind "none" a run can write .git). What '
                "was measured cannot be read back from this repository: measure again in a new study with "
                'sandbox.kind = "bwrap"'
            )

    def verify_commit(self, commit: str, *, only_new: bool = False) -> None:
        """Check every object of COMMIT (the commit, each tree and each blob) against its id.

        Raises ObjectTampered naming the first object whose content was rewritten in place, so that
        `best`, `apply` and a resumed study never show, write or build on other bytes than were measured.
        ONLY_NEW: only the objects COMMIT adds to its parents (a candidate's commit, its changed files and
        the folders above them), a cost that does not grow with the repository, for checks after each run.
        """
        commit = _rev(commit)
        since = ["--not", f"{commit}^@"] if only_new else ["--no-walk"]
        out = _text(self.root, "rev-list", "--objects", commit, *since, "--")
        oids = [line.split(" ", 1)[0] for line in out.splitlines() if line]
        for _ in self._stream_objects(oids):
            pass

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

    def remove_worktrees(self) -> None:
        """Delete every slot's worktree (e.g. when a study is finished)."""
        if self.worktrees_dir.exists():
            shutil.rmtree(self.worktrees_dir)
        with self._worktree_admin():
            git(self.root, "worktree", "prune")
        self._manifests.clear()

    # ------------------------------------------------------------------------------------ reading

    def diff(self, a: str, b: str, relative: str = "") -> str:
        """Unified diff from commit a to commit b (no renames, so `edits.parse_edits` reads it back).

        Blob to blob, as text: no attribute (`-diff`, `binary`), textconv or external driver that a
        repository could set changes what it shows. RELATIVE: only paths under that folder, relative to it.
        """
        return git(
            self.root,
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--text",
            "--no-renames",
            "-U3",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            *([f"--relative={relative}"] if relative else []),
            _rev(a),
            _rev(b),
            "--",
        ).decode("utf-8", "replace")

    def changed_paths(self, a: str, b: str) -> list[str]:
        """Repository paths whose entry (content, mode or type) differs between commits a and b."""
        out = git(self.root, "diff-tree", "-r", "-z", "--no-renames", "--name-only", _rev(a), _rev(b), "--")
        return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]

    def list_files(self, commit: str) -> list[str]:
        out = git(self.root, "ls-tree", "-r", "-z", "--full-tree", "--name-only", _rev(commit))
        return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]

    def files_at(self, commit: str, patterns: list[str]) -> dict[str, str]:
        """{path: text} of the files of `commit` matching paths or globs (binary bytes are replaced)."""
        names = [name for name in self.list_files(commit) if matches_any(name, patterns)]
        return {name: data.decode("utf-8", "replace") for name, data in self._blobs(commit, names).items()}

    def blobs(self, commit: str, names: list[str], modes: Mapping[str, str] | None = None) -> dict[str, bytes]:
        """{path: raw bytes} of the regular files among NAMES in COMMIT (no filter applied).

        MODES: the paths' modes in COMMIT when known (`modes_with_parents`), saving a look-up.
        """
        modes = self._modes(commit, names) if modes is None else modes
        return self._blobs(commit, [name for name in names if modes.get(name) in ("100644", "100755")])

    def modes_with_parents(self, commit: str, paths: list[str]) -> dict[str, str]:
        """{path: mode} in COMMIT of PATHS and every folder above them (absent ones left out)."""
        wanted = {"/".join(path.split("/")[:i]) for path in paths for i in range(1, path.count("/") + 2)}
        return self._modes(commit, sorted(wanted))

    def path_problem(self, commit: str, paths: list[str], modes: Mapping[str, str] | None = None) -> str | None:
        """Why writing PATHS (repository paths) on top of COMMIT would follow or replace a link, or None.

        A path may be a regular file or absent; none of its parent folders may be a symbolic link, a
        submodule or a file in COMMIT. MODES: `modes_with_parents` of these paths, when known.
        """
        wanted: dict[str, list[str]] = {}  # path -> its parent folders
        for path in paths:
            parts = path.split("/")
            wanted[path] = ["/".join(parts[:i]) for i in range(1, len(parts))]
        modes = self.modes_with_parents(commit, paths) if modes is None else modes
        kinds = {"120000": "a symbolic link", "160000": "a submodule", "040000": "a folder"}
        for path, parents in wanted.items():
            for parent in parents:
                if modes.get(parent, "040000") != "040000":
                    kind = kinds.get(modes[parent], "a file")
                    return f"{path} lies under {parent}, which is {kind} in the parent commit; it cannot be edited"
            if modes.get(path, "100644") not in ("100644", "100755"):
                return f"{path} is {kinds[modes[path]]} in the parent commit; only regular files can be edited"
        return None

    def _blobs(self, commit: str, names: list[str]) -> dict[str, bytes]:
        if not names:
            return {}
        request = "".join(f"{_rev(commit)}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
        out = git(self.root, "cat-file", "--batch", input=request)
        blobs: dict[str, bytes] = {}
        position = 0
        for name in names:
            end = out.index(b"\n", position)
            header = out[position:end].split(b" ")
            position = end + 1
            if header[-1] == b"missing" or len(header) != 3:
                continue
            size = int(header[2])
            if header[1] == b"blob":
                blobs[name] = out[position : position + size]
                self._check_object(header[0].decode(), b"blob", blobs[name])
            position += size + 1  # content and its trailing newline
        return blobs

    def revert_onto(self, commit: str, parent: str, onto: str) -> tuple[dict[str, bytes | None], list[str]]:
        """ONTO with the change PARENT -> COMMIT undone, as `git revert COMMIT` would on a checkout of ONTO.

        Returns {repository path: new bytes (None: deleted)} for the paths it changes in ONTO, and the
        paths where undoing does not merge cleanly (a three-way merge per file: base COMMIT, ours ONTO,
        theirs PARENT; a later change to the same lines, or a file created or deleted on one side and
        changed on the other). Only regular files are merged; anything else is a conflict.
        """
        paths = self.changed_paths(parent, commit)
        sides = [(self._modes(rev, paths), self._blobs(rev, paths)) for rev in (commit, onto, parent)]
        result: dict[str, bytes | None] = {}
        conflicts: list[str] = []
        for path in paths:
            if any(modes.get(path, "100644") not in ("100644", "100755") for modes, _ in sides):
                conflicts.append(path)
                continue
            base, ours, theirs = (blobs.get(path) for _, blobs in sides)
            if ours == theirs:
                continue  # already as before the change
            if ours == base:
                result[path] = theirs  # untouched since the change: take the file as it was before it
            elif base is None or ours is None or theirs is None:
                conflicts.append(path)  # created or deleted on one side, changed on the other
            else:
                merged = merge_file(ours, base, theirs)
                if merged is None:
                    conflicts.append(path)
                elif merged != ours:
                    result[path] = merged
        return result, conflicts

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

    def _modes(self, commit: str, paths: list[str]) -> dict[str, str]:
        if not paths:
            return {}
        out = git(self.root, "ls-tree", "-z", "--full-tree", _rev(commit), "--", *paths)
        modes = {}
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            if entry:
                meta, name = entry.split("\t", 1)
                modes[name] = meta.split(" ")[0]
        return modes
