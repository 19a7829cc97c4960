"""Opening files for a run without ever following a path the candidate could have planted.

autoresearch writes logs, params files and transcripts into an experiment's folder and reads the
metrics file a run wrote. Under `sandbox.kind = "none"` a candidate can write anywhere its user can, so
it could replace `repeat-1/` or `stdout.log` with a symlink to `.git/config` and have autoresearch
write there on its behalf. Here every path is walked one component at a time from a trusted ANCHOR
(a folder autoresearch owns, opened normally) with `O_NOFOLLOW`, so a symlink anywhere below the
anchor is refused (`UnsafePath`) instead of followed. Files are created afresh (`O_EXCL` after
unlinking whatever was there, which removes a planted link, never its target).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):
    """A path below the anchor is a symlink (or not what it must be): autoresearch will not follow it."""


def _parts(path: Path, anchor: Path) -> tuple[str, list[str]]:
    anchor_text = os.path.realpath(anchor)
    path = Path(os.path.abspath(path))
    try:
        rel = path.relative_to(anchor)
    except ValueError:
        try:
            rel = path.relative_to(anchor_text)
        except ValueError:
            raise UnsafePath(f"{path} is not inside {anchor}") from None
    parts = [p for p in rel.parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"{path}: '..' is not allowed below {anchor}")
    return anchor_text, parts


def open_dir(path: Path, anchor: Path, *, create: bool = True) -> int:
    """A directory fd for PATH (inside ANCHOR), each component below ANCHOR opened with O_NOFOLLOW."""
    anchor_text, parts = _parts(path, anchor)
    if create:
        os.makedirs(anchor_text, exist_ok=True)
    fd = os.open(anchor_text, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(
                        f"{path}: {part!r} is a symlink or not a folder; autoresearch will not follow it"
                    ) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_new(path: Path, anchor: Path, mode: int = 0o644) -> int:
    """A fresh file at PATH for writing: whatever was there (a planted symlink included) is unlinked first."""
    folder = open_dir(path.parent, anchor)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.name, dir_fd=folder)  # a symlink is removed itself, its target untouched
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(path.name, flags, mode, dir_fd=folder)
    except IsADirectoryError:
        raise UnsafePath(f"{path} is a folder, where autoresearch writes a file") from None
    finally:
        os.close(folder)


def write_bytes(path: Path, data: bytes, anchor: Path) -> Path:
    with os.fdopen(open_new(path, anchor), "wb") as out:
        out.write(data)
    return path


def write_text(path: Path, text: str, anchor: Path) -> Path:
    return write_bytes(path, text.encode(), anchor)


def open_read(path: Path, anchor: Path) -> int:
    """An fd to read the regular file PATH inside ANCHOR; UnsafePath for a symlink anywhere below ANCHOR,
    a special file or a hard link."""
    folder = open_dir(path.parent, anchor, create=False)
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{path} is a symlink; autoresearch will not follow it") from None
        raise
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device could block or feed us forever
        os.close(fd)
        raise UnsafePath(f"{path} is not a regular file")
    if info.st_nlink != 1:  # a hard link's other name may be a file the run could not read itself
        os.close(fd)
        raise UnsafePath(f"{path} is a hard link; autoresearch will not read it")
    return fd


def read_bytes(path: Path, anchor: Path, limit: int | None = None) -> bytes:
    with os.fdopen(open_read(path, anchor), "rb") as handle:
        return handle.read() if limit is None else handle.read(limit)


class TooLarge(Exception):
    """A file a run wrote (or replaced) is larger than autoresearch reads."""


def read_capped(path: Path, anchor: Path, cap: int) -> bytes:
    """PATH's bytes (as `read_bytes`), or TooLarge when it holds more than CAP: never read whole."""
    data = read_bytes(path, anchor, limit=cap + 1)
    if len(data) > cap:
        raise TooLarge(f"{path.name} is over {cap} bytes")
    return data


def fresh_dir(path: Path, anchor: Path) -> Path:
    """PATH as a new empty folder: an old one (from an earlier attempt) is removed without following links."""
    parent = open_dir(path.parent, anchor)
    try:
        try:
            info = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None:
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path.name, dir_fd=parent)  # fd-based on Linux: never follows a link inside
            else:
                os.unlink(path.name, dir_fd=parent)
        os.mkdir(path.name, 0o755, dir_fd=parent)
    finally:
        os.close(parent)
    return path
