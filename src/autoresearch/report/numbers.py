"""Every number a research note states must come from the study's store: finding them and checking them.

A note's prose (the template's or an LLM's) is checked token by token: a number is accepted when some
value drawn from the store (an objective, a count, an interval bound, a spec setting, an id) rounds to
it at the precision it is written with, directly or as a percentage. Text quoted from the store itself
(rationales, failure reasons: in backticks) is not a claim of the note and is not checked here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# A number as prose writes it: an optional sign, digits with optional thousands commas and decimals,
# an optional exponent, an optional percent sign. "#12" is the number 12; "v2" or "log10" are words.
_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?%?(?![\w])")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


@dataclass(frozen=True)
class Token:
    text: str
    value: float
    decimals: int  # digits after the point (exponent taken into account): the precision it claims
    percent: bool


def tokens(text: str) -> list[Token]:
    """The numbers stated in TEXT, in order."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        percent = raw.endswith("%")
        body = raw.rstrip("%").replace(",", "").replace("−", "-")
        mantissa, _, exponent = body.lower().partition("e")
        decimals = len(mantissa.partition(".")[2]) - (int(exponent) if exponent else 0)
        try:
            value = float(body)
        except ValueError:
            continue
        found.append(Token(raw, value, decimals, percent))
    return found


def without_quotes(text: str) -> str:
    """TEXT without its code spans and fences: quoted store text, not the note's own claims."""
    return _CODE.sub(" ", text)


def numbers_of(value: Any) -> Iterable[float]:
    """Every finite number inside VALUE (JSON-like: dicts, lists, numbers, and strings holding JSON)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from numbers_of(item)
    elif isinstance(value, str) and value[:1] in "[{":
        try:
            yield from numbers_of(json.loads(value))
        except ValueError:
            return


@dataclass
class NumberBook:
    """The numbers a note may state: values from the store and figures computed from them."""

    values: set[float] = field(default_factory=set)

    def add(self, *values: Any) -> None:
        for value in values:
            self.values.update(numbers_of(value))

    def matches(self, token: Token) -> bool:
        tolerance = 0.5 * 10.0 ** (-token.decimals) * (1 + 1e-9) + 1e-12
        target = abs(token.value)
        for value in self.values:
            for candidate in (value, 100.0 * value) if token.percent else (value,):
                if abs(abs(candidate) - target) <= tolerance:
                    return True
        return False

    def unknown(self, text: str, *, quotes_too: bool = False) -> list[str]:
        """The numbers in TEXT (outside quotes, unless QUOTES_TOO) that no value of the book rounds to."""
        checked = text if quotes_too else without_quotes(text)
        return [t.text for t in tokens(checked) if not self.matches(t)]
