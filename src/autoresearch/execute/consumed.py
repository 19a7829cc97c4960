"""What a trusted consumer (scorer, holdout) reads of a run's output: a copy, never the run's folder.

A run's output folder is the candidate's: under `none` anything, under bwrap links and special files
it made there. A symlink to the hidden labels, a hard link to them (under `none`), or a FIFO that
blocks whoever opens it would turn the scorer or the holdout, which see more than the run, against
the measurement. So before a consumer starts, `copy_output` copies the folder into a fresh one the
run never saw, taking only regular files with a single link, each opened with `O_NOFOLLOW` and
`O_NONBLOCK` below folders opened the same way, within a size and count bound. Everything else is
skipped and named (`Copied.skipped`), so that the consumer's failure is explained, not mysterious.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autoresearch.core import safeio

# The scorer's environment in params mode, where runs and script proposers write the spec's folder:
# Python puts neither its script's folder nor the working folder on the import path (PYTHONSAFEPATH),
# nor the user's site folder, so no module they leave there (a `statistics.py`, a `numpy.py`) is
# imported by the protected scorer. (In code mode the scorer's folder is your checkout, which they
# cannot write under bwrap, and its helper modules import as usual.)
ISOLATED_PYTHON = {"PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1"}

MAX_BYTES = 8 * 1024**3  # a model's weights fit; a run that fills the disk through us does not
MAX_FILES = 100_000
_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass
class Copied:
    """The copy's folder, and what was left out of it (relative paths, with why)."""

    path: Path
    skipped: list[str] = field(default_factory=list)
    files: int = 0
    size: int = 0

    def note(self) -> str:
        """One line for the consumer's log, or '' when nothing was left out."""
        if not self.skipped:
            return ""
        shown = ", ".join(self.skipped[:10]) + (f" and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else "")
        return f"left out of the run's output (only regular files the run wrote are passed on): {shown}"


def copy_output(source: Path, destination: Path, anchor: Path) -> Copied:
    """Copy the run's output folder SOURCE into DESTINATION (made afresh; both inside ANCHOR).

    SOURCE missing or not a real folder gives an empty copy. Raises nothing for what the run planted:
    links, hard links, FIFOs, devices and sockets are skipped and listed in `Copied.skipped`.
    """
    copied = Copied(safeio.fresh_dir(destination, anchor))
    try:
        top = safeio.open_dir(source, anchor, create=False)
    except (OSError, safeio.UnsafePath):
        return copied
    target = safeio.open_dir(destination, anchor, create=False)
    try:
        _copy_folder(top, target, "", copied)
    finally:
        os.close(top)
        os.close(target)
    return copied


def _copy_folder(source: int, target: int, prefix: str, copied: Copied) -> None:
    for name in sorted(os.listdir(source)):
        rel = f"{prefix}{name}"
        try:
            info = os.stat(name, dir_fd=source, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=source)
            except OSError:  # replaced by a link meanwhile: never followed
                copied.skipped.append(f"{rel} (not a plain folder)")
                continue
            try:
                os.mkdir(name, 0o755, dir_fd=target)
                made = os.open(name, _DIR_FLAGS, dir_fd=target)
                try:
                    _copy_folder(child, made, f"{rel}/", copied)
                finally:
                    os.close(made)
            finally:
                os.close(child)
        elif stat.S_ISREG(info.st_mode):
            _copy_file(source, target, name, rel, copied)
        else:
            copied.skipped.append(f"{rel} ({_kind(info.st_mode)})")


def _copy_file(source: int, target: int, name: str, rel: str, copied: Copied) -> None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=source)
    except OSError:  # a link (ELOOP) or a special file that appeared after the listing
        copied.skipped.append(f"{rel} (a link or not a regular file)")
        return
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            copied.skipped.append(f"{rel} ({_kind(info.st_mode)})")
            return
        if info.st_nlink != 1:  # a hard link: its other name may be a file the run could not read
            copied.skipped.append(f"{rel} (a hard link)")
            return
        if copied.files >= MAX_FILES or copied.size + info.st_size > MAX_BYTES:
            copied.skipped.append(f"{rel} (over the {MAX_FILES} files / {MAX_BYTES} bytes copied for a consumer)")
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(name, flags, 0o644, dir_fd=target), "wb") as out:
            written = 0
            while chunk := handle.read(_CHUNK):
                written += len(chunk)
                if copied.size + written > MAX_BYTES:  # it grew while we read it
                    break
                out.write(chunk)
        copied.files += 1
        copied.size += written


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def remove(copied: Copied, anchor: Path) -> None:
    """Delete the copy once its consumer is done (the run's own output folder stays, for the user)."""
    with contextlib.suppress(OSError, safeio.UnsafePath):
        parent = safeio.open_dir(copied.path.parent, anchor, create=False)
        try:
            shutil.rmtree(copied.path.name, dir_fd=parent)
        finally:
            os.close(parent)
