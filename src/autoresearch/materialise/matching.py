"""Locating a block of lines in a file: exact first, then whitespace-tolerant, never ambiguous.

Used by SEARCH/REPLACE blocks and unified-diff hunks alike. Lines carry no line endings here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class NotFound(Exception):
    """No strategy found the block."""


class Ambiguous(Exception):
    """The first strategy that found the block found it more than once."""

    def __init__(self, starts: list[int]) -> None:
        super().__init__(f"found {len(starts)} times")
        self.starts = starts  # 0-based line indexes


@dataclass(frozen=True)
class Located:
    start: int  # 0-based index of the first matched line
    end: int  # exclusive
    replacement: list[str]  # the new lines, re-indented when the match needed it
    strategy: str  # "exact", "trailing-whitespace" or "indentation"


# A strategy returns, for a window of the file, None when it does not match, else the replacement lines.
_Strategy = Callable[[Sequence[str], Sequence[str], Sequence[str]], list[str] | None]


def _exact(window: Sequence[str], old: Sequence[str], new: Sequence[str]) -> list[str] | None:
    return list(new) if list(window) == list(old) else None


def _trailing(window: Sequence[str], old: Sequence[str], new: Sequence[str]) -> list[str] | None:
    same = all(a.rstrip() == b.rstrip() for a, b in zip(window, old, strict=True))
    return list(new) if same else None


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _indentation(window: Sequence[str], old: Sequence[str], new: Sequence[str]) -> list[str] | None:
    # The block matches if every line differs from the file by one and the same indentation shift
    # (the LLM quoted a nested block at the wrong depth, or with tabs and spaces consistently swapped).
    old_indents = [_indent_of(line) for line in old if line.strip()]
    if not old_indents:
        return None
    old_base = min(old_indents, key=len)
    # The common indentation: the shortest indent, if every other indent starts with it.
    if not all(indent.startswith(old_base) for indent in old_indents):
        return None
    file_base: str | None = None
    for have, want in zip(window, old, strict=True):
        if not want.strip():
            if have.strip():
                return None
            continue
        rel = want.rstrip()[len(old_base) :]
        have = have.rstrip()
        if not have.endswith(rel):
            return None
        prefix = have[: len(have) - len(rel)]
        if prefix.strip() or (file_base is not None and prefix != file_base):
            return None
        file_base = prefix
    assert file_base is not None
    out: list[str] = []
    for line in new:
        if not line.strip():
            out.append("")
        elif line.startswith(old_base):
            out.append(file_base + line[len(old_base) :])
        else:
            out.append(file_base + line.lstrip())
    return out


_STRATEGIES: list[tuple[str, _Strategy]] = [
    ("exact", _exact),
    ("trailing-whitespace", _trailing),
    ("indentation", _indentation),
]


def locate(
    lines: Sequence[str],
    old: Sequence[str],
    new: Sequence[str],
    *,
    hint: int | None = None,
    drift: int = 0,
) -> Located:
    """Where `old` occurs in `lines`, and what to put there.

    Strategies are tried from strictest to loosest; the first one that matches decides. With a `hint`
    (a 0-based line where the block is expected, from a diff header), the closest match within `drift`
    lines wins; otherwise the match must be unique. Raises NotFound or Ambiguous.
    """
    size = len(old)
    if size == 0:
        raise NotFound()
    for name, strategy in _STRATEGIES:
        found: list[tuple[int, list[str]]] = []
        first = old[0].strip()
        for start in range(len(lines) - size + 1):
            # Cheap pre-filter: every strategy requires the first line to agree once stripped.
            if lines[start].strip() != first:
                continue
            replacement = strategy(lines[start : start + size], old, new)
            if replacement is not None:
                found.append((start, replacement))
        if not found:
            continue
        if hint is not None:
            near = sorted((abs(s - hint), s, rep) for s, rep in found if abs(s - hint) <= drift)
            if near and (len(near) == 1 or near[0][0] < near[1][0]):
                return Located(near[0][1], near[0][1] + size, near[0][2], name)
        if len(found) == 1:
            return Located(found[0][0], found[0][0] + size, found[0][1], name)
        raise Ambiguous([start for start, _ in found])
    raise NotFound()


def closest(lines: Sequence[str], old: Sequence[str], context: int = 2) -> str:
    """The lines of the file most like `old`, numbered, to show an LLM what it should have quoted."""
    if not lines:
        return "(the file is empty)"
    size = max(1, min(len(old), len(lines)))
    wanted = {line.strip() for line in old if line.strip()}
    # Rank windows cheaply by how many of their lines occur in the block, then compare the best few.
    hits = [0]
    for line in lines:
        hits.append(hits[-1] + (line.strip() in wanted))
    starts = range(len(lines) - size + 1)
    ranked = sorted(starts, key=lambda s: hits[s + size] - hits[s], reverse=True)[:8]
    target = "\n".join(line.strip() for line in old)

    def similarity(start: int) -> float:
        window = "\n".join(line.strip() for line in lines[start : start + size])
        return difflib.SequenceMatcher(None, window, target, autojunk=False).ratio()

    best = max(ranked, key=similarity)
    low, high = max(0, best - context), min(len(lines), best + size + context)
    width = len(str(high))
    return "\n".join(f"{index + 1:>{width}} | {lines[index]}" for index in range(low, high))
