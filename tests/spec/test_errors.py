"""Every mistake is one line naming the key and the fix, with the closest valid key for a typo."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli, write_study
from tests.spec.conftest import BASE, error_for, with_


def test_unknown_key_names_path_and_suggests() -> None:
    message = error_for(with_("run", comand="x"))
    assert "unknown key 'run.comand'" in message
    assert "did you mean 'command'" in message
    message = error_for({**BASE, "params": {"x": {"low": 0.0, "hihg": 1.0}}})
    assert "params.x.hihg" in message and "high" in message
    assert "unknown key 'budjet'" in error_for({**BASE, "budjet": {}})


def test_missing_command_and_low_above_high() -> None:
    assert "missing required key 'run.command'" in error_for({**BASE, "run": {}})
    assert "missing required key 'run'" in error_for({"metric": {"name": "m"}, "params": BASE["params"]})
    message = error_for({**BASE, "params": {"x": {"low": 2.0, "high": 1.0}}})
    assert "params.x" in message and "low (2.0) is greater than high (1.0)" in message


def test_a_misspelled_required_key_is_one_error_line(tmp_path: Path) -> None:
    data = {**BASE, "run": {"comand": "true"}}
    assert error_for(data).count("\n") == 0  # not also "missing required key 'run.command'"
    write_study(tmp_path, '[run]\ncomand = "true"\n[metric]\nname = "loss"\n[params]\nx = { low = 0, high = 1 }\n')
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "unknown key 'run.comand'; did you mean 'command'?" in result.stderr


def test_cli_reports_spec_error_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    write_study(
        tmp_path,
        """
    [run]
    command = "true"
    timeout = "forever"
    [metric]
    name = "loss"
    [params]
    x = { low = 1.0, high = 0.0 }
    """,
    )
    result = cli("run", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "run.timeout" in result.stderr and "params.x" in result.stderr
    assert not (tmp_path / ".autoresearch").exists()
