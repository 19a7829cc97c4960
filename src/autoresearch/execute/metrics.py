"""Reading metrics from an experiment's output, and computing the objective from them.

Accepted lines (karpathy/autoresearch and pi-autoresearch formats)::

    val_loss: 0.3121
    val_loss=0.3121
    METRIC val_loss=0.3121

The last line with a given name counts. A name printed many times is a curve; when the counted value
does not follow from what was printed before it (curves.py: two different values, or a last step that
jumps away from its curve), it is reported (`Measurement.ambiguous`) and the experiment flagged, since
a candidate printing a fake line after the real one is the classic way to game a metric.
Alternatively a regex with one capture group (its last match counts), or a key in a JSON file the
experiment writes (read without following links).

A metric that cannot be read unambiguously fails the run ("metric unreadable: ..."), rather than taking
the one value that happens to parse: a stdout cut by the log cap (the cut may fall inside a metric line,
or drop the true one), or a line that starts like a line of a metric the objective needs but is not one
(`loss: 0.3 (best)`, a true line corrupted by a stray byte so that only a fake beside it parses). The
metrics JSON file is read up to a cap; a larger one fails the run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.curves import ambiguity
from autoresearch.core.objective import ObjectiveExpression

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)"
_METRIC_LINE = re.compile(
    rf"^\s*(?:METRIC\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?::|=)\s*(?P<value>{_NUMBER})\s*$",
    re.IGNORECASE,
)


def parse_metric_lines(text: str, printed: dict[str, list[float]] | None = None) -> dict[str, float]:
    """Every `name: number`, `name=number` and `METRIC name=number` line in TEXT (the last one counts).

    PRINTED, when given, receives every value of each name in the order printed.
    """
    metrics: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            name, value = match.group("name"), float(match.group("value"))
            if printed is not None:
                printed.setdefault(name, []).append(value)
            metrics[name] = value
    return metrics


def unreadable_lines(text: str, names: set[str]) -> list[str]:
    """The lines of TEXT that start like a metric line of one of NAMES (after any non-alphanumeric
    bytes: a corrupted line) but do not parse as one; each is ambiguous, since it may be the true value."""
    if not names:
        return []
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    starts = re.compile(rf"^[^A-Za-z0-9]*(?:(?i:METRIC)\s+)?(?:{alternatives})\s*[:=]")
    return [line for line in text.splitlines() if starts.match(line) and not _METRIC_LINE.match(line)]


def parse_pattern(text: str, pattern: str) -> float | None:
    """The first group of the last match of PATTERN in TEXT."""
    matches = list(re.finditer(pattern, text, re.MULTILINE))
    if not matches:
        return None
    try:
        return float(matches[-1].group(1))
    except (TypeError, ValueError):
        return None


def read_json_metric(
    base: Path, spec: str, max_bytes: int | None = None
) -> tuple[float | None, dict[str, float], str | None]:
    """(value, all numeric top-level values, error) for `path/to/file.json:dotted.key`; a file over
    MAX_BYTES is not read (an error)."""
    path_text, _, key = spec.rpartition(":")
    path = base / path_text
    try:
        raw = safeio.read_bytes(path, base, limit=None if max_bytes is None else max_bytes + 1)
        if max_bytes is not None and len(raw) > max_bytes:
            return (
                None,
                {},
                (
                    f"metric unreadable: metrics file {path_text} is over {max_bytes} bytes (run.max_log_size); "
                    "write only the metrics there, or raise run.max_log_size"
                ),
            )
        data = json.loads(raw)
    except FileNotFoundError:
        return None, {}, f"metrics file {path_text} was not written"
    except safeio.UnsafePath as exc:  # a link to hidden data, the store, ...: never followed
        return None, {}, f"metrics file {path_text} refused: {exc}"
    except (OSError, ValueError) as exc:
        return None, {}, f"metrics file {path_text} is not valid JSON: {exc}"
    numbers = {k: float(v) for k, v in data.items() if _is_number(v)} if isinstance(data, dict) else {}
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None, numbers, f"metrics file {path_text} has no key {key!r}"
        node = node[part]
    if not _is_number(node):
        return None, numbers, f"metrics file {path_text}: {key} is {node!r}, not a number"
    return float(node), numbers, None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- one experiment's measurement ------------------------------------------------------------------


@dataclass
class Measurement:
    metrics: dict[str, float]
    objective: float | None
    error: str | None  # why no usable objective could be read
    # Names whose counted (last) value is ambiguous, with why (curves.py); a curve alone is not.
    ambiguous: dict[str, str] = field(default_factory=dict)


def measure(
    output: str,
    *,
    metric: str,
    pattern: str | None = None,
    json_file: str | None = None,
    objective: str | None = None,
    cwd: Path | None = None,
    cut: int = 0,
    max_bytes: int | None = None,
) -> Measurement:
    """All metrics in OUTPUT (and the JSON file), and the objective computed from them.

    CUT: bytes the log cap dropped from OUTPUT; MAX_BYTES: the largest metrics JSON file read.
    """
    printed: dict[str, list[float]] = {}
    metrics = parse_metric_lines(output, printed)
    result = _measure(output, metrics, metric, pattern, json_file, objective, cwd, max_bytes)
    for name in sorted(printed):
        why = ambiguity(name, printed[name])
        if why is not None:
            result.ambiguous[name] = why
    if result.error is None and json_file is None:
        result.error = _ambiguity(output, metric, pattern, objective, cut)
        if result.error is not None:
            result.objective = None
    return result


def _ambiguity(output: str, metric: str, pattern: str | None, objective: str | None, cut: int) -> str | None:
    """Why the objective read from OUTPUT cannot be trusted to be the run's own value, or None."""
    if cut:
        return (
            f"metric unreadable: the run printed more than run.max_log_size, so {cut} bytes of its output "
            "were dropped and a metric line may have been cut or lost; print less on stdout (progress to "
            "stderr) or raise run.max_log_size"
        )
    if pattern is not None:
        return None
    needed = ObjectiveExpression(objective).names if objective else {metric}
    bad = unreadable_lines(output, needed)
    if bad:
        return (
            f"metric unreadable: {bad[-1][:80]!r} starts like a metric line but is not one; print each "
            "metric alone on its line as `name: number`"
        )
    return None


def _measure(
    output: str,
    metrics: dict[str, float],
    metric: str,
    pattern: str | None,
    json_file: str | None,
    objective: str | None,
    cwd: Path | None,
    max_bytes: int | None = None,
) -> Measurement:
    if json_file is not None:
        value, numbers, error = read_json_metric(cwd or Path("."), json_file, max_bytes)
        metrics.update(numbers)
        if value is None:
            return Measurement(metrics, None, error)
        metrics[metric] = value
    elif pattern is not None:
        value = parse_pattern(output, pattern)
        if value is None:
            return Measurement(metrics, None, f"pattern {pattern!r} matched no number in the output")
        metrics[metric] = value
    try:
        value = ObjectiveExpression(objective).evaluate(metrics) if objective else metrics[metric]
    except KeyError as exc:
        found = ", ".join(sorted(metrics)) or "none"
        return Measurement(metrics, None, f"metric {exc.args[0]} not found in the output (found: {found})")
    except (ArithmeticError, ValueError) as exc:
        return Measurement(metrics, None, f"objective {objective!r} could not be computed: {exc}")
    if not math.isfinite(value):
        return Measurement(metrics, None, f"objective is {value}")
    return Measurement(metrics, value, None)


def objectives_unreadable(output: str, metrics: dict[str, float], names: list[str]) -> str | None:
    """Why the objectives NAMES (several objectives) cannot all be read from OUTPUT, or None: each must be
    printed as a `name: value` line, finite, with no line beside it that starts like one but is not."""
    for name in names:
        if name not in metrics:
            found = ", ".join(sorted(metrics)) or "none"
            return f"objective {name} not found in the output (found: {found}); print it as `{name}: <number>`"
        if not math.isfinite(metrics[name]):
            return f"objective {name} is {metrics[name]}"
    bad = unreadable_lines(output, set(names))
    if bad:
        return (
            f"metric unreadable: {bad[-1][:80]!r} starts like a metric line but is not one; print each "
            "metric alone on its line as `name: number`"
        )
    return None
