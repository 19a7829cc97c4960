"""Repository-relative path globs (`train.py`, `src/*.py`, `src/**`, `**/*.cu`) and path hygiene.

Semantics: patterns are matched against POSIX paths relative to the repository root. `*` and `?`
never cross a `/`; `**` as a whole segment matches zero or more directories; a pattern ending in
`/` (or naming a directory via `dir/**`) matches everything below it. Matching is case-sensitive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

GLOB_CHARS = frozenset("*?[")


def has_glob(pattern: str) -> bool:
    return any(char in GLOB_CHARS for char in pattern)


def normalize_path(path: str) -> str | None:
    """`./a//b.py` -> `a/b.py`; None for paths that leave the root or point into `.git`."""
    text = path.strip().replace("\\", "/")
    if not text or text.startswith("/"):
        return None
    parts = [part for part in PurePosixPath(text).parts if part not in ("", ".")]
    if not parts or ".." in parts or parts[0] == ".git":
        return None
    return "/".join(parts)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().replace("\\", "/").removeprefix("./")
    if pattern.endswith("/"):
        pattern += "**"
    segments = pattern.split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            # `a/**` matches everything below a; `a/**/b` matches a/b, a/x/b, a/x/y/b.
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z")


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def matches(path: str, pattern: str) -> bool:
    """Does the repository-relative `path` match the glob `pattern`?"""
    return _compile(pattern).match(path) is not None


def matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(matches(path, pattern) for pattern in patterns)


def literal_prefix(pattern: str) -> str:
    """The directory part of a pattern before its first glob segment (`src/a/*.py` -> `src/a`)."""
    pattern = pattern.strip().replace("\\", "/").removeprefix("./")
    segments = (pattern + "**" if pattern.endswith("/") else pattern).split("/")
    fixed: list[str] = []
    for segment in segments[:-1]:
        if has_glob(segment):
            break
        fixed.append(segment)
    return "/".join(fixed)
