"""Reading an LLM's answer: find the JSON object in it, check params against the search space.

Every failure is a ValueError whose message is written for the model: it goes back in a repair turn.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoresearch.spec import ParamSpec

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in `text`, tolerating code fences and prose around it."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    snippet = " ".join(text.split())[:200]
    raise ValueError(f"no valid JSON object found in your answer (it began: {snippet!r})")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_value(name: str, value: Any, spec: ParamSpec) -> Any:
    """The value, coerced where harmless (3.0 -> 3 for ints, "64" -> 64 for choices), or ValueError."""
    if spec.type == "categorical":
        choices = spec.choices or []
        for choice in choices:
            if type(choice) is type(value) and choice == value:
                return choice
            if _is_number(choice) and _is_number(value) and choice == value:
                return choice
        matches = [c for c in choices if str(c).lower() == str(value).strip().lower()]
        if len(matches) == 1:
            return matches[0]
        raise ValueError(f"{name}={json.dumps(value)} is not one of the choices {json.dumps(choices)}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{name}={json.dumps(value)} must be a number") from None
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{name}={json.dumps(value)} must be a finite number")
    assert spec.low is not None and spec.high is not None
    if spec.type == "int":
        if value != int(value):
            raise ValueError(f"{name}={value} must be an integer")
        value = int(value)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{name}={value} is out of range: it must be within [{spec.low:g}, {spec.high:g}]")
    if spec.step is not None:
        # Snap to the grid rather than spend a repair turn on it: the intent is clear.
        steps = round((value - spec.low) / spec.step)
        value = min(spec.low + steps * spec.step, spec.high)
        if spec.type == "int":
            value = round(value)
    return float(value) if spec.type == "float" else value


def check_params(given: Any, space: dict[str, ParamSpec], fallback: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validated params in space order; names missing from `given` come from `fallback` (listed second)."""
    if not isinstance(given, dict):
        raise ValueError('"params" must be a JSON object mapping parameter names to values')
    unknown = [k for k in given if k not in space]
    errors = []
    if unknown:
        errors.append(
            f"unknown parameter(s) {', '.join(map(json.dumps, unknown))}; "
            f"the parameters are {', '.join(map(json.dumps, space))}"
        )
    result: dict[str, Any] = {}
    filled: list[str] = []
    for name, spec in space.items():
        if name not in given:
            if name in fallback:
                result[name] = fallback[name]
                filled.append(name)
            else:
                errors.append(f"missing parameter {json.dumps(name)}")
            continue
        try:
            result[name] = check_value(name, given[name], spec)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError("; ".join(errors))
    return result, filled


def extract_edits(text: str) -> tuple[str, str]:
    """(rationale, edits) from a JSON answer, or from bare SEARCH/REPLACE blocks with prose before them."""
    try:
        data = extract_json(text)
    except ValueError:
        marker = text.find("<<<<<<< SEARCH")
        if marker == -1:
            raise
        # Models often skip the JSON wrapper for code; the blocks themselves are unambiguous.
        head = text[:marker]
        line_start = head.rstrip("\n").rfind("\n")  # the file path line just above the first block
        prose = head[: max(line_start, 0)]
        return " ".join(prose.replace("```", " ").split()), text[max(line_start + 1, 0) :].strip()
    edits = data.get("edits")
    if not isinstance(edits, str) or not edits.strip():
        raise ValueError('the JSON object needs an "edits" string holding SEARCH/REPLACE blocks')
    return str(data.get("rationale", "")), edits
