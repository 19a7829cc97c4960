"""Finding and reading the spec file: autoresearch.toml, [tool.autoresearch] in pyproject.toml, or a clear error."""

from __future__ import annotations

from pathlib import Path

from autoresearch.spec import load_spec
from tests.conftest import cli


def test_pyproject_tool_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.autoresearch.run]\ncommand = "true"\n'
        '[tool.autoresearch.metric]\nname = "m"\n[tool.autoresearch.params]\nx = { choices = [1, 2] }\n'
    )
    spec = load_spec(tmp_path)
    assert spec.run.command == "true" and spec.name == tmp_path.name


def test_cli_reports_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "autoresearch.toml").write_text("[run\ncommand = 1")
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_cli_without_spec(tmp_path: Path) -> None:
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and "autoresearch init" in result.stderr
