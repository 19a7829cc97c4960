"""Running git for code mode: the trusted executable, a safe environment, and the errors.

Every git call autoresearch makes goes through `git` (or `git_command` for a streamed one): a git found
in the system's own folders, no system or global config, no hooks, filters, pagers or fetches. What is
built on it: `git_objects.py` (a repository's objects, read and written without its work tree),
`worktrees.py` (a reusable worktree per slot) and `workspace.py` (one study's refs, branch and `apply`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from autoresearch.core.tampered import Tampered
from autoresearch.materialise.checkout import read_file, write_file
from autoresearch.materialise.globs import has_glob, literal_prefix, matches, normalize_path

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


def git_command(*args: str) -> list[str]:
    """`git --no-pager -c ... ARGS` with the git chosen by `git_executable` and every safety override."""
    return [git_executable(), "--no-pager", *(arg for option in _CONFIG for arg in ("-c", option)), *args]


def git_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git call runs with: only what git needs of ours, the safety overrides, EXTRA."""
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
    result = subprocess.run(git_command(*args), cwd=cwd, input=input, capture_output=True, env=git_environment(env))
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
        command = git_command("merge-file", "-p", *names)
        result = subprocess.run(command, cwd=temp, capture_output=True, env=git_environment())
    if result.returncode < 0 or result.returncode > 127:
        raise GitError(f"git merge-file failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout if result.returncode == 0 else None


def git_text(cwd: Path, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
    """`git`'s output as text, stripped."""
    return git(cwd, *args, env=env, input=input).decode("utf-8", "replace").strip()


def safe_revision(value: str) -> str:
    """VALUE, refused when git would read it as an option (a leading "-") or it is empty."""
    if not value or value.startswith("-"):
        raise GitError(f"invalid revision {value!r}")
    return value


def ensure_excluded(repo_root: Path, pattern: str = ".autoresearch/") -> None:
    """Add `pattern` to the repository's `.git/info/exclude` (shared by all its worktrees) once."""
    # Read and replaced without following links: a link planted there is replaced, its target untouched.
    git_dir = Path(git_text(repo_root, "rev-parse", "--path-format=absolute", "--git-common-dir"))
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
