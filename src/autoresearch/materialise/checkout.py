"""Writing a commit's files into a folder ourselves: git never writes the checkout a candidate runs in.

git's own checkout runs filters (`filter.*.smudge`), `.gitattributes` conversions and hooks, which anyone
who can write `.git/config` or `.git/info/attributes` controls. Here blobs are read raw (`git cat-file
--batch`, no filter) and written with `O_NOFOLLOW | O_EXCL` below folders opened one component at a time,
so nothing planted in the repository or the folder (config, attributes, a symbolic link) changes what
a run sees, or makes autoresearch write outside the folder.

A reset is the equivalent of `git checkout -f` + `git clean -ffdx`. A file is kept only if it still is
what we wrote: same type, inode, size, mtime and ctime (a process cannot set ctime back). A file written
within `RACY_NS` of the end of the previous reset could share its timestamps with a later write (git's
"racy clean" case): its content is hashed and compared with the blob instead. Everything else is
removed and written again, so a reset costs one `lstat` per file plus the files that changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autoresearch.core import safeio

REGULAR, EXECUTABLE, SYMLINK, GITLINK = "100644", "100755", "120000", "160000"
RACY_NS = 50_000_000  # file timestamps are as coarse as a kernel tick; 50 ms covers HZ=100 with margin
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Entry = tuple[str, str]  # (mode, object id) of one path in a commit's tree
StatKey = tuple[int, int, int, int, int, int]
BlobReader = Callable[[list[str]], Iterator[tuple[str, bytes]]]  # object ids -> (id, content), any order


@dataclass
class Manifest:
    """What a folder held when autoresearch last wrote it: {path: (entry, stat key)}, and when."""

    files: dict[str, tuple[Entry, StatKey]] = field(default_factory=dict)
    finished_ns: int = 0


def _key(st: os.stat_result) -> StatKey:
    return (st.st_mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def materialise(
    folder: Path, entries: dict[str, Entry], manifest: Manifest, read_blobs: BlobReader, keep: Iterable[str] = ()
) -> int:
    """Make FOLDER hold exactly ENTRIES (a commit's tree); returns how many files were written.

    KEEP: top-level names left alone (the worktree's `.git` file, checked by the caller).
    """
    dirs = {""}
    for path, (mode, _) in entries.items():
        parts = path.split("/")
        dirs.update("/".join(parts[:index]) for index in range(1, len(parts)))
        if mode == GITLINK:
            dirs.add(path)  # an uninitialised submodule: an empty folder, as git leaves it
    trusted = manifest.finished_ns - RACY_NS
    kept: set[str] = set()
    root = os.open(folder, _DIR_FLAGS)
    fds: dict[str, int] = {"": root}
    try:
        _sweep(root, "", entries, dirs, manifest, trusted, kept, frozenset(keep))
        missing = [path for path, (mode, _) in entries.items() if path not in kept and mode != GITLINK]
        files = {path: entry for path, entry in manifest.files.items() if path in kept}
        for path in sorted(dirs):
            if path:
                _dir(fds, path)
        by_blob: dict[str, list[str]] = {}
        for path in missing:
            by_blob.setdefault(entries[path][1], []).append(path)
        for oid, data in read_blobs(list(by_blob)):
            for path in by_blob.pop(oid, []):
                files[path] = (entries[path], _write(fds, path, entries[path][0], data))
        if by_blob:
            raise FileNotFoundError(f"objects missing from the repository: {', '.join(sorted(by_blob))}")
    finally:
        for fd in fds.values():
            os.close(fd)
    manifest.files = files
    manifest.finished_ns = time.time_ns()
    return len(missing)


def _sweep(
    dir_fd: int,
    rel: str,
    entries: dict[str, Entry],
    dirs: set[str],
    manifest: Manifest,
    trusted: int,
    kept: set[str],
    keep: frozenset[str],
) -> None:
    """Remove what the folder below REL must not hold; add to KEPT the files still as we wrote them."""
    with os.scandir(dir_fd) as listing:
        found = list(listing)
    for item in found:
        path = f"{rel}/{item.name}" if rel else item.name
        if not rel and item.name in keep:
            continue
        st = item.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if path in dirs:
                child = os.open(item.name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    _sweep(child, path, entries, dirs, manifest, trusted, kept, keep)
                finally:
                    os.close(child)
            else:
                shutil.rmtree(item.name, dir_fd=dir_fd)  # fd-based: never follows a link inside
            continue
        entry = entries.get(path)
        unchanged = entry is not None and manifest.files.get(path) == (entry, _key(st))
        if unchanged and (
            st.st_ctime_ns < trusted or (stat.S_ISREG(st.st_mode) and _holds(dir_fd, item.name, entries[path][1]))
        ):
            kept.add(path)
            continue
        os.unlink(item.name, dir_fd=dir_fd)  # a file, a planted symlink (not its target), a fifo...


def _holds(dir_fd: int, name: str, oid: str) -> bool:
    """Whether regular file NAME holds the blob OID (git's object hash of its content)."""
    handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(handle, "rb") as source:
        return _is_blob(source.read(), oid)


def _dir(fds: dict[str, int], path: str) -> int:
    """An fd of folder PATH (relative), created if needed, every component opened without following links."""
    if path in fds:
        return fds[path]
    parent, _, name = path.rpartition("/")
    parent_fd = _dir(fds, parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o777, dir_fd=parent_fd)
    fds[path] = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    return fds[path]


def _write(fds: dict[str, int], path: str, mode: str, data: bytes) -> StatKey:
    parent, _, name = path.rpartition("/")
    dir_fd = _dir(fds, parent)
    if mode == SYMLINK:
        os.symlink(os.fsdecode(data), name, dir_fd=dir_fd)
    else:
        # New files get the umask-derived mode, as git's checkout gives them.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(name, flags, 0o777 if mode == EXECUTABLE else 0o666, dir_fd=dir_fd)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    return _key(os.stat(name, dir_fd=dir_fd, follow_symlinks=False))


def read_file(root: Path, path: str) -> bytes | None:
    """The bytes of regular file PATH below ROOT, or None if it is missing, a link or not a regular file.

    No component below ROOT is followed if it is a symbolic link (`core.safeio`), so a link planted
    anywhere on the way is never read through.
    """
    try:
        return safeio.read_bytes(root / path, root)
    except (OSError, safeio.UnsafePath):
        return None


def state(root: Path, path: str) -> str:
    """What PATH below ROOT is, without following links: "missing", "file", "link", "other", or
    "blocked" when a folder on the way is a symbolic link or not a folder."""
    parts = path.split("/")
    fds: list[int] = []
    try:
        fd = os.open(root, _DIR_FLAGS)
        fds.append(fd)
        for part in parts[:-1]:
            try:
                fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return "missing"
            except OSError:
                return "blocked"
            fds.append(fd)
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return "missing"
    finally:
        for opened in fds:
            os.close(opened)
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def write_file(root: Path, path: str, data: bytes | None, executable: bool | None = None) -> None:
    """Replace PATH below ROOT by DATA atomically (None: delete it), never following a link on the way.

    Missing folders are created. EXECUTABLE: add x wherever r is set, or drop every x (None: keep the
    current mode, or the umask's for a new file).
    """
    fds: dict[str, int] = {"": os.open(root, _DIR_FLAGS)}
    try:
        parent, _, name = path.rpartition("/")
        dir_fd = _dir(fds, parent)
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
            return
        try:
            current: int | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode & 0o7777
        except FileNotFoundError:
            current = None
        temp = f".{name}.autoresearch-{os.getpid()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(temp, flags, 0o666, dir_fd=dir_fd)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                mode = current if current is not None else os.fstat(out.fileno()).st_mode & 0o7777
                if executable is True:
                    mode |= (mode & 0o444) >> 2
                elif executable is False:
                    mode &= ~0o111
                os.fchmod(out.fileno(), mode)
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
    finally:
        for fd in fds.values():
            os.close(fd)


def changes(folder: Path, entries: dict[str, Entry], manifest: Manifest, keep: Iterable[str] = ()) -> dict[str, str]:
    """How FOLDER differs from ENTRIES (a commit's tree): {path: "modified", "added", "deleted", "link", "other"}.

    Read without following links: a symbolic link, where the tree has a file or none, is reported as
    "link" and never read through; "other" is a fifo, socket or device. Modes are ignored (edits cannot
    express them). KEEP: top-level names not looked at (the worktree's `.git` file).
    """
    found: dict[str, str] = {}
    seen: set[str] = set()
    trusted = manifest.finished_ns - RACY_NS

    def walk(dir_fd: int, rel: str) -> None:
        with os.scandir(dir_fd) as listing:
            items = list(listing)
        for item in items:
            path = f"{rel}/{item.name}" if rel else item.name
            if not rel and item.name in frozenset(keep):
                continue
            st = item.stat(follow_symlinks=False)
            entry = entries.get(path)
            if stat.S_ISDIR(st.st_mode) and (entry is None or entry[0] == GITLINK):
                child = os.open(item.name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    walk(child, path)
                finally:
                    os.close(child)
                seen.add(path)
                continue
            seen.add(path)
            if stat.S_ISLNK(st.st_mode):
                target = os.fsencode(os.readlink(item.name, dir_fd=dir_fd))
                if entry is None or entry[0] != SYMLINK or not _is_blob(target, entry[1]):
                    found[path] = "link"
            elif not stat.S_ISREG(st.st_mode):
                found[path] = "other"
            elif entry is None:
                found[path] = "added"
            elif entry[0] not in (REGULAR, EXECUTABLE):
                found[path] = "other"
            elif manifest.files.get(path) == (entry, _key(st)) and st.st_ctime_ns < trusted:
                continue
            elif not _holds(dir_fd, item.name, entry[1]):
                found[path] = "modified"

    root = os.open(folder, _DIR_FLAGS)
    try:
        walk(root, "")
    finally:
        os.close(root)
    for path, (mode, _) in entries.items():
        if path not in seen and mode != GITLINK:
            found[path] = "deleted"
    return found


def _is_blob(data: bytes, oid: str) -> bool:
    digest = hashlib.sha1() if len(oid) == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest() == oid
