"""Git operations for code mode, through the `git` command line.

Candidates live in reusable detached worktrees under `worktrees_dir/<slot>`; each experiment's commit is
kept alive by `refs/autoresearch/<study>/<experiment_id>`, and the best so far is the branch
`autoresearch/<study>`. The user's branch, index, working tree and stash are never written to, except by
`apply_to_user_checkout`, which the user asks for.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from autoresearch.workspace.edits import write_files
from autoresearch.workspace.globs import has_glob, literal_prefix, matches, matches_any, normalize_path

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


class GitError(Exception):
    """A git operation failed or was refused; the message says why and what to do."""


def _environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
    env.update(IDENTITY)
    env.update(_SAFE_ENV)
    if extra:
        env.update(extra)
    return env


def git(cwd: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
    """Run `git args` in cwd; stdout as bytes, GitError with git's message on failure."""
    command = ["git", "--no-pager"]
    for option in _CONFIG:
        command += ["-c", option]
    command += args
    result = subprocess.run(command, cwd=cwd, input=input, capture_output=True, env=_environment(env))
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise GitError(f"git {' '.join(args[:3])} failed in {cwd}: {message}")
    return result.stdout


def _text(cwd: Path, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
    return git(cwd, *args, env=env, input=input).decode("utf-8", "replace").strip()


def _rev(value: str) -> str:
    # A revision starting with "-" would be read as an option.
    if not value or value.startswith("-"):
        raise GitError(f"invalid revision {value!r}")
    return value


def ensure_excluded(repo_root: Path, pattern: str = ".autoresearch/") -> None:
    """Add `pattern` to the repository's `.git/info/exclude` (shared by all its worktrees) once."""
    exclude = Path(_text(repo_root, "rev-parse", "--path-format=absolute", "--git-path", "info/exclude"))
    existing = exclude.read_text() if exclude.exists() else ""
    if pattern in (line.strip() for line in existing.splitlines()):
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    separator = "" if not existing or existing.endswith("\n") else "\n"
    with exclude.open("a") as out:
        out.write(f"{separator}{pattern}\n")


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
        self._ready: set[int] = set()  # slots validated by this process
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
            git(self.root, "add", "-A", "--", ".", env=env)
            tree = _text(self.root, "write-tree", env=env)
        if head and tree == _text(self.root, "rev-parse", f"{head}^{{tree}}"):
            return head
        parents = ["-p", head] if head else []
        message = "autoresearch: baseline with uncommitted changes"
        sha = _text(self.root, "commit-tree", tree, *parents, "-m", message)
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
        """A commit of PARENT's tree with FILES (repository paths) replaced by these contents (None: deleted).

        Built from blobs in a temporary index: no work tree, no filter, no hook is involved, so the commit
        holds exactly these bytes. A file keeps PARENT's mode (new files: MODES or 100644). With
        `experiment_id`, the commit is also stored under `refs/autoresearch/<study>/<experiment_id>`.
        """
        parent = _text(self.root, "rev-parse", "--verify", f"{_rev(parent)}^{{commit}}")
        clean = {normalize_path(path): content for path, content in files.items()}
        if None in clean:
            raise GitError(f"cannot commit paths outside the repository: {sorted(files)}")
        old_modes = self._modes(parent, [p for p in clean if p])
        entries: list[str] = []
        for path, content in clean.items():
            assert path is not None
            if content is None:
                entries.append(f"0 {'0' * len(parent)}\t{path}")  # mode 0: remove the path
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = _text(self.root, "hash-object", "-w", "-t", "blob", "--no-filters", "--stdin", input=data)
            mode = old_modes.get(path) or (modes or {}).get(path) or "100644"
            entries.append(f"{mode} {blob}\t{path}")
        with tempfile.TemporaryDirectory(prefix="autoresearch-index-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            git(self.root, "read-tree", parent, env=env)
            if entries:
                info = "".join(f"{entry}\0" for entry in entries).encode("utf-8", "surrogateescape")
                git(self.root, "update-index", "-z", "--index-info", input=info, env=env)
            tree = _text(self.root, "write-tree", env=env)
        sha = _text(self.root, "commit-tree", tree, "-p", parent, "-m", message)
        if experiment_id is not None:
            self.set_ref(experiment_id, sha)
        return sha

    def ref(self, experiment_id: int | str) -> str:
        name = str(experiment_id)
        if not name or name.startswith(".") or any(char in name for char in " ~^:?*[\\/"):
            raise GitError(f"experiment id {name!r} cannot be used in a git ref name")
        return self.ref_prefix + name

    def set_ref(self, experiment_id: int | str, sha: str) -> None:
        git(self.root, "update-ref", self.ref(experiment_id), _rev(sha))

    def refs(self) -> dict[str, str]:
        """{experiment_id: sha} of every ref this study has recorded."""
        out = _text(self.root, "for-each-ref", "--format=%(refname) %(objectname)", self.ref_prefix)
        pairs = (line.split(" ") for line in out.splitlines())
        return {ref.removeprefix(self.ref_prefix): sha for ref, sha in pairs}

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
        """A clean detached worktree at `commit` in worktrees_dir/<slot>, reused from call to call.

        Leftovers of a crashed process (stale lock files, a directory git no longer knows, a registered
        worktree whose directory is gone) are cleared, recreating the worktree if needed.
        """
        path = self.worktrees_dir / str(slot)
        commit = _rev(commit)
        if slot in self._ready or self._is_our_worktree(path):
            if slot not in self._ready:
                self._clear_locks(path)
            try:
                self._reset(path, commit)
                self._ready.add(slot)
                return path
            except GitError:
                self._ready.discard(slot)
        self._recreate(path, commit)
        self._ready.add(slot)
        return path

    def _reset(self, path: Path, commit: str) -> None:
        git(path, "checkout", "-q", "-f", "--detach", commit)
        git(path, "clean", "-q", "-ffdx")

    def _is_our_worktree(self, path: Path) -> bool:
        if not (path / ".git").is_file():
            return False
        try:
            top, common = _text(
                path, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"
            ).splitlines()
        except (GitError, ValueError):
            return False
        return Path(top).resolve() == path.resolve() and Path(common).resolve() == self.common_dir

    def _clear_locks(self, path: Path) -> None:
        # Only this study's process uses the slot, so a lock here was left by a crash.
        admin = Path(_text(path, "rev-parse", "--path-format=absolute", "--git-dir"))
        for name in ("index.lock", "HEAD.lock"):
            (admin / name).unlink(missing_ok=True)

    def _recreate(self, path: Path, commit: str) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        git(self.root, "worktree", "prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        git(self.root, "worktree", "add", "-q", "-f", "--detach", str(path), commit)

    def remove_worktrees(self) -> None:
        """Delete every slot's worktree (e.g. when a study is finished)."""
        if self.worktrees_dir.exists():
            shutil.rmtree(self.worktrees_dir)
        git(self.root, "worktree", "prune")
        self._ready.clear()

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

    def blobs(self, commit: str, names: list[str]) -> dict[str, bytes]:
        """{path: raw bytes} of the regular files among NAMES in COMMIT (no filter applied)."""
        modes = self._modes(commit, names)
        return self._blobs(commit, [name for name in names if modes.get(name) in ("100644", "100755")])

    def path_problem(self, commit: str, paths: list[str]) -> str | None:
        """Why writing PATHS (repository paths) on top of COMMIT would follow or replace a link, or None.

        A path may be a regular file or absent; none of its parent folders may be a symbolic link, a
        submodule or a file in COMMIT.
        """
        wanted: dict[str, list[str]] = {}  # path -> its parent folders
        for path in paths:
            parts = path.split("/")
            wanted[path] = ["/".join(parts[:i]) for i in range(1, len(parts))]
        modes = self._modes(commit, sorted({p for path, parents in wanted.items() for p in (path, *parents)}))
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
            position += size + 1  # content and its trailing newline
        return blobs

    # ------------------------------------------------------------------------------------ applying

    def apply_to_user_checkout(self, sha: str, base_sha: str) -> list[str]:
        """Write the changes base_sha..sha into the user's working tree (not the index); returns paths.

        Refuses, changing nothing, when a file it would touch has uncommitted changes, is untracked
        where the candidate creates it, or changed in the user's HEAD since base_sha.
        """
        raw = git(self.root, "diff", "--name-status", "--no-renames", "-z", _rev(base_sha), _rev(sha), "--")
        fields = raw.decode("utf-8", "surrogateescape").split("\0")
        changes = dict(zip(fields[1::2], fields[0::2], strict=False))  # path -> A/M/D/T
        changes.pop("", None)
        if not changes:
            return []
        paths = sorted(changes)
        status = git(self.root, "status", "--porcelain=v1", "--no-renames", "-z", "--untracked-files=all", "--", *paths)
        entries = status.decode("utf-8", "surrogateescape").split("\0")
        dirty = sorted({entry[3:] for entry in entries if entry})
        # An ignored file where the candidate creates one would be silently overwritten: refuse too.
        in_the_way = [p for p in paths if changes[p] == "A" and (self.root / p).exists() and p not in dirty]
        blocked = dirty + in_the_way
        if blocked:
            raise GitError(
                "not applying: these files have uncommitted changes or are in the way: "
                f"{', '.join(blocked)}. Commit or stash them and run again; nothing was changed"
            )
        moved = git(self.root, "diff", "--name-only", "-z", base_sha, "HEAD", "--", *paths).decode()
        if moved.strip("\0"):
            raise GitError(
                f"not applying: {', '.join(filter(None, moved.split(chr(0))))} changed in your HEAD since "
                f"the study's baseline {base_sha[:12]}; merge the branch {self.branch} instead "
                f"(`git merge {self.branch}`). Nothing was changed"
            )
        blobs = self._blobs(sha, [p for p in paths if changes[p] != "D"])
        modes = self._modes(sha, list(blobs))
        if any(mode == "120000" for mode in modes.values()):
            raise GitError("not applying: the candidate changes symbolic links; use `git merge` instead")
        write_files(self.root, {path: blobs.get(path) for path in paths})
        for path, mode in modes.items():
            current = (self.root / path).stat().st_mode & 0o7777
            # Executable: add x wherever r is set (like git's checkout); otherwise drop every x.
            wanted = current | (current & 0o444) >> 2 if mode == "100755" else current & ~0o111
            os.chmod(self.root / path, wanted)
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
