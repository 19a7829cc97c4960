"""What a run says to the proposer besides its number: feedback text, metric curves and log tails.

- **Feedback**: lines `feedback: <text>` in the run's output, and the file `feedback.txt` the run may
  write in its output folder (`$AUTORESEARCH_OUTPUT_DIR`); a scorer's `feedback:` lines too (the scorer is
  the user's code and chooses what it says; nothing else of its output ever passes).
- **Curves**: a metric printed many times (a loss per step) is kept as a downsampled series.
- **Tails**: the last lines of a run's logs, read when a prompt is built.

Everything is capped in characters or points, and every file is opened without following links. Lines
that name the holdout metric (or the word "holdout") are dropped at the source, so a run that re-prints
an earlier holdout log relays nothing of it; the holdout's own output is never read here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.execute.metrics import parse_metric_lines

FEEDBACK_FILE = "feedback.txt"
FEEDBACK_CHARS = 2000  # per experiment, all sources together
SERIES_POINTS = 48  # points kept per metric curve
SERIES_METRICS = 6  # curves kept per experiment
SERIES_MIN = 3  # a metric printed fewer times is no curve

_FEEDBACK_LINE = re.compile(r"^\s*feedback\s*:\s?(?P<text>.*)$", re.IGNORECASE)
_SPARKS = "▁▂▃▄▅▆▇█"


class Redactor:
    """Drops lines that name the holdout (its metric, or the word), whatever channel carries them."""

    def __init__(self, holdout_metric: str | None) -> None:
        words = ["holdout", *([holdout_metric] if holdout_metric else [])]
        self._pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)

    def allows(self, text: str) -> bool:
        return self._pattern.search(text) is None

    def lines(self, text: str) -> str:
        return "\n".join(line for line in text.splitlines() if self.allows(line))


def feedback_lines(output: str, redactor: Redactor) -> list[str]:
    """The text of every `feedback:` line in OUTPUT, in order."""
    found = []
    for line in output.splitlines():
        match = _FEEDBACK_LINE.match(line)
        if match and match.group("text").strip() and redactor.allows(line):
            found.append(match.group("text").rstrip())
    return found


def read_feedback_file(output_dir: Path, anchor: Path, redactor: Redactor) -> list[str]:
    """The lines of `feedback.txt` in the run's output folder (a link there is ignored, never followed)."""
    try:
        data = safeio.read_bytes(output_dir / FEEDBACK_FILE, anchor, limit=4 * FEEDBACK_CHARS)
    except (OSError, safeio.UnsafePath):
        return []
    text = redactor.lines(data.decode(errors="replace"))
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def join_feedback(parts: Iterable[tuple[str, list[str]]], limit: int = FEEDBACK_CHARS) -> str:
    """One bounded text from (source, lines) pairs; a source's lines are headed by its name when there are two."""
    parts = [(source, lines) for source, lines in parts if lines]
    blocks = []
    for source, lines in parts:
        body = "\n".join(lines)
        blocks.append(f"[{source}]\n{body}" if len(parts) > 1 else body)
    text = "\n".join(blocks)
    if len(text) > limit:  # the first lines usually say the most (failing tests first, then details)
        text = text[: limit - 16].rstrip() + "\n[...truncated]"
    return text


def metric_series(output: str, redactor: Redactor, *, skip: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Curves of the metrics printed at least SERIES_MIN times in OUTPUT, each downsampled.

    A curve: {"n": how many values were printed, "values": at most SERIES_POINTS of them, evenly
    spaced, first and last included, "min": the smallest, "argmin": where it fell (0..1)}.
    """
    values: dict[str, list[float]] = {}
    skipped = set(skip)
    for line in output.splitlines():
        found = parse_metric_lines(line)
        for name, value in found.items():
            if name in skipped or not redactor.allows(name):
                continue
            if name not in values and len(values) >= SERIES_METRICS:
                continue
            values.setdefault(name, []).append(value)
    curves = {}
    for name, series in values.items():
        finite = [(i, v) for i, v in enumerate(series) if math.isfinite(v)]
        if len(series) < SERIES_MIN or not finite:
            continue
        at, low = min(finite, key=lambda item: item[1])
        curves[name] = {
            "n": len(series),
            "values": downsample(series, SERIES_POINTS),
            "min": low,
            "argmin": round(at / max(len(series) - 1, 1), 3),
        }
    return curves


def downsample(values: list[float], points: int) -> list[float]:
    if len(values) <= points:
        return list(values)
    step = (len(values) - 1) / (points - 1)
    return [values[round(i * step)] for i in range(points)]


def sparkline(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    marks = []
    for v in values:
        if not math.isfinite(v):
            marks.append("?")
        else:
            level = 0 if span == 0 else round((v - low) / span * (len(_SPARKS) - 1))
            marks.append(_SPARKS[level])
    return "".join(marks)


def _num(value: float) -> str:
    return f"{value:.4g}"


def summarise_curve(name: str, curve: dict[str, Any]) -> str:
    """`loss: 200 values, start 2.3, min 0.41 (at 87%), end 0.45, falling; ▇▅▃▂▁▁` (one line)."""
    values = [float(v) for v in curve.get("values", [])]
    if not values:
        return f"{name}: no values"
    start, end = values[0], values[-1]
    low = float(curve.get("min", min(values)))
    at = float(curve.get("argmin", 0.0))
    return (
        f"{name}: {curve.get('n', len(values))} values, start {_num(start)}, min {_num(low)} (at {at:.0%}), "
        f"end {_num(end)}, {trend(values)}; {sparkline(values)}"
    )


def trend(values: list[float]) -> str:
    """Where the last quarter of a curve is heading, relative to the curve's range."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return "flat"
    span = max(finite) - min(finite)
    tail = finite[-max(2, len(finite) // 4) :]
    change = tail[-1] - tail[0]
    if span == 0 or abs(change) < 0.02 * span:
        return "flat at the end"
    return "still falling at the end" if change < 0 else "rising at the end"


def log_tail(log_dir: Path, anchor: Path, chars: int, redactor: Redactor) -> str:
    """The end of a run's stdout.log, then of its stderr.log, within CHARS in all, read without following links."""
    parts = []
    budget = chars
    for name, share in (("stderr.log", chars // 3), ("stdout.log", chars)):
        text = _tail(log_dir / name, anchor, min(share, budget))
        text = redactor.lines(text).strip("\n")
        if text.strip():
            parts.append((name, text))
            budget -= len(text)
    parts.reverse()  # stdout first, stderr (usually the cause of a failure) last
    return "\n".join(f"--- {name} ---\n{text}" for name, text in parts)


def _tail(path: Path, anchor: Path, chars: int) -> str:
    if chars <= 0:
        return ""
    try:
        fd = safeio.open_read(path, anchor)
    except (OSError, safeio.UnsafePath):
        return ""
    with os.fdopen(fd, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(size - chars, 0))
        text = handle.read().decode(errors="replace")
    if size > chars:  # start at a whole line
        _, newline, rest = text.partition("\n")
        text = rest if newline and rest.strip() else text
    return text


def top_entries(output: str, top: int, chars: int) -> str:
    """A profiler's top entries: cProfile's table header and its first TOP rows (the program's own output
    before it left out), or else the last TOP lines of OUTPUT; at most CHARS characters."""
    lines = output.rstrip().splitlines()
    header = next((i for i, line in enumerate(lines) if line.split()[:2] == ["ncalls", "tottime"]), None)
    if header is not None:
        start = next((i for i in range(header - 1, -1, -1) if "function calls" in lines[i]), header)
        chosen = (
            [lines[start], *lines[header : header + 1 + top]] if start != header else lines[header : header + 1 + top]
        )
    else:
        chosen = lines[-top:]
    text = "\n".join(line.rstrip() for line in chosen)
    return text if len(text) <= chars else text[: chars - 16].rstrip() + "\n[...truncated]"
