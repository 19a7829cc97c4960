"""A minimal valid spec, and helpers to break it one key at a time."""

from __future__ import annotations

from typing import Any

import pytest

from autoresearch.spec import SpecError, spec_from_dict

BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}


def error_for(data: dict[str, Any]) -> str:
    """The SpecError message DATA gives."""
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    return str(info.value)


def with_(section: str, **values: object) -> dict[str, Any]:
    """BASE with VALUES set in SECTION."""
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {}).update(values)
    return data
