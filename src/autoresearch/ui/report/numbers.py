"""Every number a research note states must come from the study's store: finding them and checking them
by value, sign and unit.

A note's prose (the template's or an LLM's) is read token by token. A token is a number as prose writes
it, in digits ("12", "+23.4%", "1,234", "3.7x", "300 ms") or in words ("thirty-seven percent", "twice as
fast", "halved"), with what it claims to be:

- a unit: a plain number, a percentage (`%`, "percent"), percentage points ("pp", "percentage points"), a
  ratio ("37x", "×37", "37-fold", "37 times faster", "doubled") or a duration (ms, s, min, h);
- a sense: "improved by", "12% better", "an improvement of" claim a change for the better; "rose by",
  "fell by", "12% lower" a change of the measured value; the token's own sign multiplies it, so that
  "improved by -12%" claims a loss.

A token is accepted when a value the book holds of that kind, with the sign claimed, rounds to it at the
precision it is written with: a plain number or a percentage without a sense is any store value (a
percentage also as a fraction), a change in % is a relative change (for the better, or of the measured
value), in percentage points an absolute difference, a ratio one of the study's ratios, a duration one
of its durations. A number written without a sign is positive. Text quoted from the store itself
(rationales, failure reasons: in backticks) is not a claim of the note unless the caller says so.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# A number in digits: thousands grouped by commas, blanks, apostrophes or underscores, decimals (or only
# decimals: ".37"), an exponent. What precedes it and what follows is read by `tokens`.
_DIGITS = re.compile(r"(?:\d{1,3}(?:([, '_])\d{3})(?:\1\d{3})*(?!\d)|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)

# What may follow a number: its unit, as (pattern, unit, scale to the unit's base, decimals it adds).
_SUFFIXES: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"\s?%\s?points?\b|\s?(?:pp|p\.p\.)(?![\w])|\s?percentage[\s-]points?\b", re.I), "pp", 1.0),
    (re.compile(r"\s?%|\s?per\s?cent\b", re.I), "%", 1.0),
    (re.compile(r"\s?[x×](?![\w])|[\s-]?fold\b", re.I), "x", 1.0),
    (
        re.compile(r"\s+times\s+(?=(?:as|faster|slower|better|worse|higher|lower|more|less|larger|smaller)\b)", re.I),
        "x",
        1.0,
    ),
    (re.compile(r"\s?(?:ms|msec|milliseconds?)\b", re.I), "s", 1e-3),
    (re.compile(r"\s?(?:s|sec|secs|seconds?)\b", re.I), "s", 1.0),
    (re.compile(r"\s?(?:min|mins|minutes?)\b", re.I), "s", 60.0),
    (re.compile(r"\s?(?:h|hr|hrs|hours?)\b", re.I), "s", 3600.0),
    (re.compile(r"k\b"), "", 1e3),
    (re.compile(r"\s?(?:M|million)\b"), "", 1e6),
    (re.compile(r"\s?thousand\b", re.I), "", 1e3),
]

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
_UNITS = {w: i for i, w in enumerate(re.findall(r"\w+", _ONES + "seventeen eighteen nineteen"))}
_TENS = {
    w: 10 * i for i, w in enumerate(re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety"), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WORD = "|".join([*_UNITS, *_TENS, *_SCALES])
_NUMBER_WORDS = re.compile(rf"\b(?:a\s+(?=hundred|thousand|million))?(?:{_WORD})(?:[\s-]+(?:{_WORD}))*\b", re.I)
# Words that state a ratio or a count on their own: (pattern, value, unit).
_WORD_FIGURES: list[tuple[re.Pattern[str], float, str]] = [
    (re.compile(r"\btwice\s+(?=as\b)|\bdoubl(?:ed|es|e|ing)\b|\btwo-?fold\b", re.I), 2.0, "x"),
    (re.compile(r"\btripl(?:ed|es|e|ing)\b|\bthree-?fold\b|\bthrice\s+(?=as\b)", re.I), 3.0, "x"),
    (re.compile(r"\bquadrupl(?:ed|es|e|ing)\b|\bfour-?fold\b", re.I), 4.0, "x"),
    (re.compile(r"\bhalv(?:ed|es|ing)\b|\bhalf\s+(?=as\b)", re.I), 0.5, "x"),
    (re.compile(r"\bhalf\b|\ba\s+half\b", re.I), 0.5, ""),
    (re.compile(r"\bonce\b", re.I), 1.0, ""),
    (re.compile(r"\btwice\b", re.I), 2.0, ""),
    (re.compile(r"\bthrice\b", re.I), 3.0, ""),
    (re.compile(r"\ba\s+dozen\b|\bdozen\b", re.I), 12.0, ""),
]
_WORD_RELATIVE = 0.05  # a ratio in words ("doubled") claims the ratio within 5%

# A change, and which way: before the number ("improved by", "an increase of") or after it ("12% lower").
_BETTER_UP = r"improv\w*|better|gain(?:ed|s)?|faster|speed-?ups?|sped\s+up|outperform\w*|beat"
_BETTER_DOWN = r"worse|worsen\w*|regress\w*|degrad\w*|slower|slow-?downs?|hurt|lost|loses|losing"
_RAW_UP = r"rose|rise[sn]?|rising|increas\w*|grew|grow\w*|higher|more|larger|bigger|climb\w*|jump\w*|up"
_RAW_DOWN = r"fell|fall\w*|drop\w*|decreas\w*|declin\w*|lower\w*|less|fewer|smaller|shr[ai]nk\w*|reduc\w*|cut|down"
_SENSES = [("better", 1, _BETTER_UP), ("better", -1, _BETTER_DOWN), ("up", 1, _RAW_UP), ("up", -1, _RAW_DOWN)]
_HEDGE = r"(?:(?:about|around|roughly|nearly|almost|approximately|some|just|over|under|only|a\s+further)\s+|~\s*)?"
_ANY_SENSE = "|".join(words for _, _, words in _SENSES)
# "improved the loss by", "fell by": the last change word before "by" says which way; "an improvement of",
# "the gain was", "speedup:", "fell" only right before the number.
_BY = re.compile(rf"\bby\s+{_HEDGE}$", re.I)
_NAMED = re.compile(rf"\b(?:{_ANY_SENSE})\s*(?:(?:of|is|was|were|by)\s+|:\s*)?{_HEDGE}$", re.I)
_FACTOR_OF = re.compile(rf"\bfactor\s+of\s+{_HEDGE}$", re.I)
# After a plain number (no unit) only a comparative claims a change: "0.3 lower"; "3 more runs" is a count.
_PLAIN_AFTER = re.compile(r"better|worse|faster|slower|higher|lower|larger|smaller", re.I)


@dataclass(frozen=True)
class Token:
    text: str
    value: float  # as written, with its sign, in its unit's base (a duration in seconds)
    decimals: int  # digits after the point (exponent taken into account): the precision it claims
    percent: bool
    unit: str = ""  # "", "%", "pp" (percentage points), "x" (a ratio), "s" (a duration)
    sense: int = 0  # +1 a claimed rise or gain, -1 a fall or loss, 0 a level
    change: str = ""  # what the sense is about: "better" (the direction's) or "up" (the measured value)
    signed: bool = False  # written with an explicit sign
    tolerance: float = 0.0  # how far a value may be and still round to it (in the unit's base)


def _normalise(text: str) -> str:
    """Full-width and other compatibility digits as ASCII; invisible characters (zero-width spaces, which
    split "37" into "3" and "7" to the eye of a checker but not of a reader) dropped."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").replace("−", "-")


def _sense(before: str, after: str, *, plain: bool = False) -> tuple[int, str]:
    """The change the words around a number claim: (+1 or -1, 'better' or 'up'), or (0, '')."""
    follows = re.match(r"\s*([a-z-]+(?:\s+up)?)", after, re.I)
    if follows and (not plain or _PLAIN_AFTER.fullmatch(follows.group(1))):
        for change, sign, words in _SENSES:
            if re.fullmatch(rf"(?:{words})", follows.group(1), re.I):
                return sign, change
    window = re.split(r"[.!?;]\s", before)[-1][-80:]
    named = _NAMED.search(window)
    if named:
        window = named.group(0)
    elif not _BY.search(window):
        return 0, ""
    found: tuple[int, int, int, str] | None = None
    for change, sign, words in _SENSES:
        for match in re.finditer(rf"\b(?:{words})\b", window, re.I):
            if found is None or match.start() > found[0]:
                found = (match.start(), match.end(), sign, change)
    if found is None:
        return 0, ""
    # "improved the loss by": a few words between; "the improvement is +4% (10 pairs) measured by": another
    # number, or a clause, between the change and "by" makes "by" introduce something else.
    between = window[found[1] :]
    if re.search(r"\d|[,()]", between) or len(between.split()) > 6:
        return 0, ""
    return found[2], found[3]


def tokens(text: str) -> list[Token]:
    """The numbers stated in TEXT, in order."""
    text = _normalise(text)
    found: list[tuple[int, Token]] = []
    for match in _DIGITS.finditer(text):
        start, end = match.span()
        body = match.group(0)
        previous = text[start - 1] if start else " "
        signed = previous in "+-" and (start < 2 or not text[start - 2].isalnum())
        if signed:
            start -= 1
            previous = text[start - 1] if start else " "
        prefix_ratio = previous in ("x", "×") and (start < 2 or not text[start - 2].isalnum())
        unit, scale, extra = "", 1.0, ""
        for pattern, suffix_unit, suffix_scale in _SUFFIXES:
            suffix = pattern.match(text, end)
            if suffix:
                unit, scale, extra = suffix_unit, suffix_scale, suffix.group(0)
                break
        if (prefix_ratio or _FACTOR_OF.search(text, 0, start)) and not unit:
            unit = "x"  # "×37", "x37", "a factor of 37"
        elif (previous.isalnum() or previous in "_.") and not unit:
            continue  # part of a word or a version: "v2", "log10", "fp16", "1.2.3" (but "x37%" is a claim)
        clean = re.sub(r"[, '_]", "", body)
        mantissa, _, exponent = clean.lower().partition("e")
        decimals = len(mantissa.partition(".")[2]) - (int(exponent) if exponent else 0)
        value = float(clean) * (-1.0 if signed and text[start] == "-" else 1.0)
        tolerance = 0.5 * 10.0 ** (-decimals) * (1 + 1e-9) + 1e-12
        before, after = text[:start], text[end + len(extra) :]
        sense, change = (0, "") if previous == "#" else _sense(before, after, plain=not unit)
        raw = text[start : end + len(extra)].strip()
        found.append(
            (
                start,
                Token(raw, value * scale, decimals, unit == "%", unit, sense, change, signed, tolerance * scale),
            )
        )
    found += _word_tokens(text)
    return [token for _, token in sorted(found, key=lambda pair: pair[0])]


def _word_value(words: str) -> float:
    total = current = 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "a":
            current = 1
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return float(total + current)


def _word_tokens(text: str) -> list[tuple[int, Token]]:
    """Numbers written in words: "thirty-seven percent", "twice as fast", "halved", "seven runs"."""
    found: list[tuple[int, Token]] = []
    taken: list[tuple[int, int]] = []
    for pattern, value, unit in _WORD_FIGURES:
        for match in pattern.finditer(text):
            if any(a <= match.start() < b for a, b in taken):
                continue
            taken.append(match.span())
            tolerance = value * _WORD_RELATIVE if unit == "x" else 1e-9
            sense, change = _sense(text[: match.start()], text[match.end() :])
            found.append(
                (match.start(), Token(match.group(0).strip(), value, 0, False, unit, sense, change, False, tolerance))
            )
    for match in _NUMBER_WORDS.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        start, end = match.span()
        unit, extra = "", ""
        for pattern, suffix_unit, _ in _SUFFIXES[:4]:
            suffix = pattern.match(text, end)
            if suffix:
                unit, extra = suffix_unit, suffix.group(0)
                break
        value = _word_value(match.group(0))
        sense, change = _sense(text[:start], text[end + len(extra) :], plain=not unit)
        raw = text[start : end + len(extra)].strip()
        found.append((start, Token(raw, value, 0, unit == "%", unit, sense, change, False, 0.5 * (1 + 1e-9))))
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


# A metric's unit, read from its name: a duration in seconds (scale), or a ratio.
_TIME_NAMES = [(re.compile(r"(?:^|_)ms$|millis"), 1e-3), (re.compile(r"(?:^|_)(?:s|sec|secs|seconds)$"), 1.0)]
_TIME_WORDS = re.compile(r"time|duration|latency|runtime|wall|elapsed")
_RATIO_WORDS = re.compile(r"speedup|ratio|factor")
_PERCENT_WORDS = re.compile(r"pct|percent")


@dataclass
class NumberBook:
    """The numbers a note may state, by kind: `values` (levels: objectives, metrics, parameters, counts,
    ids, settings), `gains` (relative changes for the better, fractions), `changes` (relative changes of
    the measured value), `deltas` and `raw_deltas` (the same as absolute differences), `ratios` (each
    with its inverse) and `seconds` (durations)."""

    values: set[float] = field(default_factory=set)
    gains: set[float] = field(default_factory=set)
    changes: set[float] = field(default_factory=set)
    deltas: set[float] = field(default_factory=set)
    raw_deltas: set[float] = field(default_factory=set)
    ratios: set[float] = field(default_factory=set)
    better_ratios: set[float] = field(default_factory=set)  # by how many times a move was better
    raw_ratios: set[float] = field(default_factory=set)  # after / before, of the measured value
    seconds: set[float] = field(default_factory=set)
    percents: set[float] = field(default_factory=set)  # values already in percent (a metric named so)

    def add(self, *values: Any) -> None:
        for value in values:
            self.values.update(numbers_of(value))

    def add_gain(self, *fractions: float | None) -> None:
        """Relative improvements (positive = better), each also as the ratio it means."""
        for fraction in fractions:
            if fraction is not None and math.isfinite(fraction):
                self.gains.add(fraction)
                # "18% better" as a factor reads either way: 1.18 times the value, or 1 / 0.82 times the time.
                for factor in (1 + fraction, 1 / (1 - fraction) if fraction < 1 else None):
                    if factor is not None and factor > 0:
                        self.add_ratio(factor, 1.0)
                        self.better_ratios.add(factor)

    def add_ratio(self, a: float | None, b: float | None) -> None:
        if a is not None and b is not None and a * b > 0 and math.isfinite(a / b):
            self.ratios.update((a / b, b / a))

    def add_step(self, before: float | None, after: float | None, direction: str) -> None:
        """What a move from BEFORE to AFTER can be called: its changes, differences and ratios."""
        if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
            return
        better = (after - before) * (1 if direction == "maximize" else -1)
        self.raw_deltas.add(after - before)
        self.deltas.add(better)
        if before != 0:
            self.changes.add((after - before) / abs(before))
            self.gains.add(better / abs(before))
        if after * before > 0:
            self.add_ratio(after, before)
            self.raw_ratios.add(after / before)
            self.better_ratios.add(after / before if direction == "maximize" else before / after)

    def add_seconds(self, *values: float | None) -> None:
        self.seconds.update(v for v in values if v is not None and math.isfinite(v))

    def add_metrics(self, metrics: dict[str, Any] | None) -> None:
        """Metrics: as levels, and by their name's unit as durations or ratios."""
        for name, value in (metrics or {}).items():
            numbers = list(numbers_of(value))
            self.values.update(numbers)
            key = str(name).lower()
            scale = next((s for pattern, s in _TIME_NAMES if pattern.search(key)), None)
            if scale is None and _TIME_WORDS.search(key):
                scale = 1.0
            if scale is not None:
                self.seconds.update(n * scale for n in numbers)
            if _RATIO_WORDS.search(key):
                self.ratios.update(numbers)
            if _PERCENT_WORDS.search(key):
                self.percents.update(numbers)

    def _candidates(self, token: Token) -> Iterable[float]:
        """The values TOKEN may state, in its unit."""
        if token.unit == "x":
            # "2x faster" is the move's factor for the better; "2x slower" the same factor the other way.
            chosen = {"better": self.better_ratios, "up": self.raw_ratios}.get(token.change, self.ratios)
            return chosen if token.sense >= 0 else {1 / r for r in chosen}
        if token.unit == "s":
            return self.seconds
        if token.unit == "pp":
            pick = {"better": self.deltas, "up": self.raw_deltas}.get(token.change, self.deltas | self.raw_deltas)
            return (100 * v for v in pick)
        if token.unit == "%":
            if token.change:
                return (100 * v for v in (self.gains if token.change == "better" else self.changes))
            return [100 * v for v in self.values | self.gains | self.changes] + list(self.percents)
        if token.change:
            return self.deltas if token.change == "better" else self.raw_deltas
        return self.values

    def matches(self, token: Token) -> bool:
        if token.unit in ("x", "s"):
            claim = token.value  # a factor or a duration is positive; its sense picked the candidates
            return claim > 0 and any(abs(c - claim) <= token.tolerance for c in self._candidates(token))
        claim = token.value * (token.sense or 1)
        # A level written without a sign claims a positive value; a sign or a sense claims its own.
        return any(abs(c - claim) <= token.tolerance for c in self._candidates(token))

    def unknown(self, text: str, *, quotes_too: bool = False) -> list[str]:
        """The numbers in TEXT (outside quotes, unless QUOTES_TOO) that no value of the book rounds to."""
        checked = text if quotes_too else without_quotes(text)
        return [t.text for t in tokens(checked) if not self.matches(t)]
