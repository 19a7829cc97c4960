"""Reading an LLM's answer: the JSON object in it, or the edits (its params are checked by core/space.py).

Every failure is a ValueError whose message is written for the model: it goes back in a repair turn.
"""

from __future__ import annotations

import json
import re
from typing import Any

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
