"""A spec that cannot be used becomes a `SpecError` whose message names the key path and what would be
valid (an unknown key with the closest valid one); the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from autoresearch.spec.model import Spec


class SpecError(Exception):
    """A spec that cannot be used, with a message meant for the user."""


class SpecChanged(SpecError):
    """The spec differs from the one the study last ran with, and the change was not accepted."""


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    errors = exc.errors()
    # A misspelled required key is one mistake, not two: its "unknown key ...; did you mean" line says it
    # all, so the "missing" error for the key it was meant to be is dropped.
    typos = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = [str(part) for part in error["loc"]]
            close = difflib.get_close_matches(loc[-1], _valid_keys(loc), n=1)
            if close:
                typos.add(".".join([*loc[:-1], close[0]]))
    for error in errors:
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'{_valid_keys_hint(loc)}")
        elif error["type"] == "missing" and key in typos:
            continue
        elif error["type"] == "missing":
            lines.append(f"{source}: missing required key '{key}'")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            if error["type"].endswith("_type") or error["type"].endswith("_parsing"):
                message = f"{message} (got {got!r})"
            lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def _valid_keys(loc: list[str]) -> list[str]:
    """The keys valid beside the last part of LOC, or [] where any key is (a parameter's name)."""
    model: Any = Spec
    parts = iter(loc[:-1])
    for part in parts:
        field = model.model_fields.get(part)
        if field is None:
            return []
        args = typing.get_args(field.annotation) or (field.annotation,)
        if typing.get_origin(field.annotation) is dict:
            next(parts, None)  # skip the user's own key, e.g. the parameter's name
            args = typing.get_args(field.annotation)[1:]
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return sorted((f.alias or name) for name, f in model.model_fields.items() if name != "root")


def _valid_keys_hint(loc: list[str]) -> str:
    """'; did you mean X? Valid keys here: ...' for an unknown key at LOC."""
    valid = _valid_keys(loc)
    if not valid:
        return ""
    close = difflib.get_close_matches(loc[-1], valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ";"
    return f"{hint} valid keys here: {', '.join(valid)}"
