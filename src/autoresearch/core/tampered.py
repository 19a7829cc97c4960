"""The exception for a study whose own record (store, git objects, study branch) someone else changed.

Raised where it is found (git's object checks, the loop's store checks) and caught by the loop, which
records it (engine/tamper.py) and stops deciding."""

from __future__ import annotations


class Tampered(Exception):
    """The study's own record (store, git objects, study branch) was changed by someone else.

    FINDING: what was found, for the record (the message says too what the study did about it)."""

    def __init__(self, message: str, finding: str | None = None) -> None:
        super().__init__(message)
        self.finding = finding or message
