"""Editable regions: `autoresearch: begin` / `autoresearch: end` comment markers inside an editable file.

When a file has markers, only the lines strictly between a begin and the following end may change;
the markers themselves and everything outside them must stay byte-identical. Files without markers
are editable as a whole. The check compares old and new content, so it works for every edit format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A comment line in any common syntax: #, //, --, ;, %, /* */, <!-- -->, leading * of a block comment.
_MARKER = re.compile(
    r"^\s*(?:#+|//+|--+|;+|%+|/\*+|\*+|<!--|\"|')\s*autoresearch:\s*(begin|end)\b",
    re.IGNORECASE,
)


class RegionError(ValueError):
    """The markers in a file do not pair up."""


def find_regions(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(begin, end) 0-based line indexes of each marker pair; [] when the file has no markers."""
    regions: list[tuple[int, int]] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        match = _MARKER.match(line)
        if not match:
            continue
        if match.group(1).lower() == "begin":
            if begin is not None:
                raise RegionError(f"line {index + 1}: `autoresearch: begin` inside another region")
            begin = index
        else:
            if begin is None:
                raise RegionError(f"line {index + 1}: `autoresearch: end` without a `begin`")
            regions.append((begin, index))
            begin = None
    if begin is not None:
        raise RegionError(f"line {begin + 1}: `autoresearch: begin` has no matching `end`")
    return regions


def _fixed_parts(lines: Sequence[str], regions: list[tuple[int, int]]) -> list[tuple[int, list[str]]]:
    """The unchangeable stretches (markers included), each with its first line index."""
    parts: list[tuple[int, list[str]]] = []
    start = 0
    for begin, end in regions:
        parts.append((start, list(lines[start : begin + 1])))
        start = end
    parts.append((start, list(lines[start:])))
    return parts


def describe(regions: list[tuple[int, int]]) -> str:
    return ", ".join(f"{begin + 2}-{end}" for begin, end in regions if end - begin > 1) or "none"


def region_violation(old: Sequence[str], new: Sequence[str]) -> str | None:
    """None when `new` only differs from `old` inside the marked regions, else why not.

    Raises RegionError when the original file's markers are malformed.
    """
    regions = find_regions(old)
    if not regions:
        return None
    where = (
        f"only lines strictly between `autoresearch: begin` and `autoresearch: end` may change "
        f"(editable lines: {describe(regions)})"
    )
    try:
        new_regions = find_regions(new)
    except RegionError:
        new_regions = []
    if len(new_regions) != len(regions):
        return f"the edit adds, removes or changes an `autoresearch: begin/end` marker; {where}"
    for (start, before), (_, after) in zip(_fixed_parts(old, regions), _fixed_parts(new, new_regions), strict=True):
        if before == after:
            continue
        offset = next(
            (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
            min(len(before), len(after)),
        )
        return f"the edit changes line {start + offset + 1}, which is outside the editable regions; {where}"
    return None
