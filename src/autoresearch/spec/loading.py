"""Finding the spec file (`autoresearch.toml`, or `[tool.autoresearch]` in `pyproject.toml`) and loading
it into a validated `Spec`, remembering it as written for change detection.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoresearch.spec.changes import snapshot_of
from autoresearch.spec.errors import SpecError, format_validation_error
from autoresearch.spec.model import Spec

SPEC_FILENAME = "autoresearch.toml"


def find_spec_file(path: Path) -> Path:
    """The spec file for PATH: a file given directly, else autoresearch.toml, else pyproject.toml."""
    if path.is_file():
        return path
    if not path.exists():
        raise SpecError(f"{path}: no such file or directory")
    candidate = path / SPEC_FILENAME
    if candidate.is_file():
        return candidate
    pyproject = path / "pyproject.toml"
    if pyproject.is_file() and "autoresearch" in _read_toml(pyproject).get("tool", {}):
        return pyproject
    raise SpecError(
        f"{path}: no {SPEC_FILENAME} (or [tool.autoresearch] in pyproject.toml); create one with `autoresearch init`"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def load_spec(path: Path | str = ".") -> Spec:
    file = find_spec_file(Path(path))
    data = _read_toml(file)
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("autoresearch", {})
    return spec_from_dict(data, root=file.parent, source=str(file))


def spec_from_dict(data: dict[str, Any], *, root: Path = Path("."), source: str = SPEC_FILENAME) -> Spec:
    try:
        spec = Spec.model_validate({**data, "root": root.resolve()})
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None
    if spec.study.goal_file and not (spec.root / spec.study.goal_file).is_file():
        raise SpecError(f"{source}: study.goal_file: {spec.study.goal_file!r} does not exist")
    spec._source = snapshot_of(spec, data)
    return spec
