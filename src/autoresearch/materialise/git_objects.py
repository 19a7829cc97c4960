"""A git repository's objects, read and written through git's plumbing, never through its work tree.

Commits are built from blobs and trees (`write_commit`), files are read as raw blobs with each object
checked against its id (`ObjectTampered`), and diffs, modes and reverts are computed blob to blob: no
filter, attribute, textconv or hook the repository sets changes what autoresearch commits or reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from autoresearch.materialise.checkout import Entry
from autoresearch.materialise.git import (
    GitError,
    ObjectTampered,
    git,
    git_command,
    git_environment,
    git_text,
    merge_file,
    safe_revision,
)
from autoresearch.materialise.globs import matches_any, normalize_path


class GitObjects:
    """The objects of the repository that holds REPO_ROOT: trees, blobs and commits."""

    def __init__(self, repo_root: Path) -> None:
        try:
            top, common = git_text(
                Path(repo_root), "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"
            ).splitlines()
        except (GitError, ValueError):
            raise GitError(f"{repo_root} is not inside a git work tree (run `git init` first)") from None
        self.root = Path(top)
        self.common_dir = Path(common).resolve()

    # ------------------------------------------------------------------------------------ commits

    def head(self) -> str:
        try:
            return git_text(self.root, "rev-parse", "--verify", "HEAD^{commit}")
        except GitError:
            raise GitError(f"{self.root} has no commits yet; commit your files first") from None

    def no_filters(self) -> list[str]:
        """`-c` options that switch off every filter driver the repository's config defines.

        `git add` and `write-tree` (used once, for a baseline of uncommitted work, before any candidate
        runs) clean files through the filters their attributes name; with these, none runs and the
        files are taken as they are.
        """
        try:
            names = git_text(self.root, "config", "--name-only", "--get-regexp", r"^filter\.")
        except GitError:  # exit status 1: no filter is configured
            return []
        drivers = {key[len("filter.") : key.rindex(".")] for key in names.splitlines() if key.count(".") >= 2}
        options: list[str] = []
        for driver in sorted(drivers):
            for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
                options += ["-c", f"filter.{driver}.{key}={value}"]
        return options

    def write_commit(
        self,
        parent: str,
        files: Mapping[str, bytes | str | None],
        message: str,
        modes: Mapping[str, str] | None = None,
    ) -> str:
        """A commit of PARENT's tree with FILES (repository paths) replaced by these contents (None: deleted).

        Built from objects alone (`hash-object --no-filters`, `mktree` for each folder on the way,
        `commit-tree`): no work tree, index, filter or hook is involved, so the commit holds exactly these
        bytes. A file keeps PARENT's mode (new files: MODES or 100644).
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
            blob = git_text(self.root, "hash-object", "-w", "-t", "blob", "--no-filters", "--stdin", input=data)
            mode = (modes or {}).get(clean, "100644")
            if mode not in ("100644", "100755"):  # never a link or a submodule
                raise GitError(f"cannot commit {clean} with mode {mode}: only regular files are committed")
            changes[clean] = (mode, blob)
        tree = self._edit_tree(parent, "", changes) or git_text(self.root, "mktree", "-z", input=b"")
        return git_text(self.root, "commit-tree", tree, "-p", parent, "-m", message)

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
        return git_text(self.root, "mktree", "-z", input=listing.encode("utf-8", "surrogateescape"))

    def _commit_id(self, rev: str) -> str:
        """REV's full commit id (a full hex id as it is: autoresearch's own refs and store hold those)."""
        if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev):
            return rev
        return git_text(self.root, "rev-parse", "--verify", f"{safe_revision(rev)}^{{commit}}")

    # ------------------------------------------------------------------------------------ objects

    def tree(self, commit: str) -> dict[str, Entry]:
        """{path: (mode, object id)} of every file, symbolic link and submodule in COMMIT."""
        out = git(self.root, "ls-tree", "-r", "-z", "--full-tree", safe_revision(commit))
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
            git_command("cat-file", "--batch"),
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=git_environment(),
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
        commit = safe_revision(commit)
        since = ["--not", f"{commit}^@"] if only_new else ["--no-walk"]
        out = git_text(self.root, "rev-list", "--objects", commit, *since, "--")
        oids = [line.split(" ", 1)[0] for line in out.splitlines() if line]
        for _ in self._stream_objects(oids):
            pass

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
            safe_revision(a),
            safe_revision(b),
            "--",
        ).decode("utf-8", "replace")

    def changed_paths(self, a: str, b: str) -> list[str]:
        """Repository paths whose entry (content, mode or type) differs between commits a and b."""
        out = git(
            self.root, "diff-tree", "-r", "-z", "--no-renames", "--name-only", safe_revision(a), safe_revision(b), "--"
        )
        return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]

    def list_files(self, commit: str) -> list[str]:
        out = git(self.root, "ls-tree", "-r", "-z", "--full-tree", "--name-only", safe_revision(commit))
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
        request = "".join(f"{safe_revision(commit)}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
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

    def _modes(self, commit: str, paths: list[str]) -> dict[str, str]:
        if not paths:
            return {}
        out = git(self.root, "ls-tree", "-z", "--full-tree", safe_revision(commit), "--", *paths)
        modes = {}
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            if entry:
                meta, name = entry.split("\t", 1)
                modes[name] = meta.split(" ")[0]
        return modes

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


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):
        pipe.write(data)
        pipe.close()
