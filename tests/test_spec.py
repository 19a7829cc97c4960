from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.spec import SpecError, load_spec, parse_duration, parse_size, spec_from_dict
from tests.conftest import cli, write_study

BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}


def error_for(data: dict) -> str:
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    return str(info.value)


def with_(section: str, **values: object) -> dict:
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {}).update(values)
    return data


def test_durations_and_sizes() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("2h") == 7200
    assert parse_duration(12) == 12
    assert parse_size("10MB") == 10_000_000
    assert parse_size("1KiB") == 1024
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("five minutes")


def test_valid_spec_infers_types_and_baseline() -> None:
    spec = spec_from_dict(
        {
            **BASE,
            "params": {
                "lr": {"low": 1e-4, "high": 1e-2, "log": True},
                "layers": {"low": 1, "high": 5},
                "act": {"choices": ["relu", "tanh"]},
                "drop": {"low": 0.0, "high": 0.5, "step": 0.1, "default": 0.2},
            },
            "run": {"command": "true", "timeout": "5m"},
        }
    )
    assert spec.run.timeout == 300
    assert {n: p.type for n, p in spec.params.items()} == {
        "lr": "float",
        "layers": "int",
        "act": "categorical",
        "drop": "float",
    }
    assert spec.params["lr"].baseline_value() == pytest.approx(1e-3)
    assert spec.params["layers"].baseline_value() == 3
    assert spec.params["act"].baseline_value() == "relu"
    assert spec.params["drop"].baseline_value() == 0.2
    assert spec.mode == "params"


def test_unknown_key_names_path_and_suggests() -> None:
    message = error_for(with_("run", comand="x"))
    assert "unknown key 'run.comand'" in message
    assert "did you mean 'command'" in message
    message = error_for({**BASE, "params": {"x": {"low": 0.0, "hihg": 1.0}}})
    assert "params.x.hihg" in message and "high" in message
    assert "unknown key 'budjet'" in error_for({**BASE, "budjet": {}})


def test_wrong_type() -> None:
    message = error_for(with_("budget", experiments="many"))
    assert "budget.experiments" in message and "'many'" in message


def test_empty_search_space() -> None:
    assert "nothing to search" in error_for({"run": {"command": "x"}, "metric": {"name": "m"}})
    assert "choices must list at least one value" in error_for({**BASE, "params": {"c": {"choices": []}}})


def test_bad_regex_and_objective() -> None:
    assert "not a valid regex" in error_for(with_("metric", pattern="loss ([0-9"))
    assert "capture group" in error_for(with_("metric", pattern="loss [0-9.]+"))
    assert "not allowed" in error_for(with_("metric", objective="__import__('os').system('x')"))


def test_missing_command_and_low_above_high() -> None:
    assert "missing required key 'run.command'" in error_for({**BASE, "run": {}})
    assert "missing required key 'run'" in error_for({"metric": {"name": "m"}, "params": BASE["params"]})
    message = error_for({**BASE, "params": {"x": {"low": 2.0, "high": 1.0}}})
    assert "params.x" in message and "low (2.0) is greater than high (1.0)" in message


def test_bad_duration_and_proposer() -> None:
    assert "run.timeout" in error_for(with_("run", timeout="soon"))
    message = error_for(with_("proposer", use="tpee"))
    assert "unknown proposer 'tpee'" in message and "did you mean 'tpe'" in message


def test_pyproject_tool_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.autoresearch.run]\ncommand = "true"\n'
        '[tool.autoresearch.metric]\nname = "m"\n[tool.autoresearch.params]\nx = { choices = [1, 2] }\n'
    )
    spec = load_spec(tmp_path)
    assert spec.run.command == "true" and spec.name == tmp_path.name


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


def test_cli_reports_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "autoresearch.toml").write_text("[run\ncommand = 1")
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_cli_without_spec(tmp_path: Path) -> None:
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and "autoresearch init" in result.stderr


def test_a_misspelled_required_key_is_one_error_line(tmp_path: Path) -> None:
    data = {**BASE, "run": {"comand": "true"}}
    assert error_for(data).count("\n") == 0  # not also "missing required key 'run.command'"
    write_study(tmp_path, '[run]\ncomand = "true"\n[metric]\nname = "loss"\n[params]\nx = { low = 0, high = 1 }\n')
    result = cli("run", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "unknown key 'run.comand'; did you mean 'command'?" in result.stderr


def test_a_spec_snapshot_ignores_formatting_and_names_real_changes() -> None:
    before = spec_from_dict(with_("run", timeout="5m")).source
    same = spec_from_dict(with_("run", timeout="300s")).source
    after = spec_from_dict(with_("run", timeout="1h")).source
    assert before is not None and same is not None and after is not None
    assert before.hash == same.hash and before.hash != after.hash
    assert after.changes(before) == [("run.timeout", '"5m"', '"1h"')]


def test_profile_section() -> None:
    spec = spec_from_dict(with_("profile", command="{python} -m cProfile -s cumtime bench.py", timeout="2m"))
    assert spec.profile is not None and spec.profile.timeout == 120 and spec.profile.top == 25
    assert "unknown key 'profile.comand'" in error_for(with_("profile", comand="x"))
    assert "profile.top" in error_for(with_("profile", command="x", top=0))
