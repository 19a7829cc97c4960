"""Params mode: hand a parameter set to the experiment as a file, placeholders and environment."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from autoresearch.core import safeio

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def params_text(path: Path, params: dict[str, Any]) -> str:
    """PARAMS as the file PATH holds them, in the format its suffix names (json, yaml/yml or toml)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.dumps(params, indent=2, sort_keys=True) + "\n"
    if suffix in (".yaml", ".yml"):
        return yaml.safe_dump(params, sort_keys=True)
    if suffix == ".toml":
        return tomli_w.dumps(params)
    # the spec validator rejects other suffixes; this guards direct API use
    raise ValueError(f"unsupported params file format {suffix!r}")


def write_params_file(path: Path, params: dict[str, Any], anchor: Path | None = None) -> Path:
    """Write PARAMS in the format the file's suffix names (json, yaml/yml or toml).

    With ANCHOR, the file is written below it without following any symlink (see core.safeio).
    """
    if anchor is not None:
        return safeio.write_text(path, params_text(path, params), anchor)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(params_text(path, params))
    return path


def render_command(template: str, values: dict[str, Any]) -> str:
    """Replace `{name}` placeholders whose name is in VALUES, shell-quoted; leave other braces alone.

    Only known names are replaced so that shell and awk braces in the command survive.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return shlex.quote(_as_text(values[name]))

    return _PLACEHOLDER.sub(replace, template)


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def params_env(params: dict[str, Any]) -> dict[str, str]:
    """AUTORESEARCH_PARAM_<NAME> for each parameter."""
    return {f"AUTORESEARCH_PARAM_{re.sub(r'[^A-Za-z0-9]', '_', k).upper()}": _as_text(v) for k, v in params.items()}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
