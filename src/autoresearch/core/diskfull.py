"""A full disk stops the study with one clear line; the store is intact and `run` resumes it.

SQLite rolls a transaction that hits a full disk back (`database or disk is full`), and a log write that
hits it fails with ENOSPC: neither leaves a half-written record. What must not happen is a raw traceback,
or an experiment recorded as failed because the machine, not the candidate, ran out of space.
"""

from __future__ import annotations

import errno
import sqlite3

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def disk_full(exc: BaseException | None) -> BaseException | None:
    """The first write that found the disk full in EXC's chain (itself, its causes and contexts: a
    cleanup's write that failed next comes later), or None."""
    seen: set[int] = set()
    found: list[BaseException] = []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            found.append(exc)
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            found.append(exc)
        exc = exc.__cause__ or exc.__context__
    named = [e for e in found if getattr(e, "filename", None)]  # what the message can name
    return (named or found)[-1] if found else None


def message(exc: BaseException) -> str:
    """One line for the user: what was full, and what to do."""
    where = getattr(exc, "filename", None) or "the study store"
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"disk full: could not write {where} ({why}); free space and run again: the study is intact and resumes"
