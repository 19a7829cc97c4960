"""Each section on its own: values with units, types, regexes and objectives, the proposer's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.spec import SpecError, load_spec, parse_duration, parse_size, spec_from_dict
from tests.spec.conftest import BASE, error_for, with_


def test_durations_and_sizes() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("2h") == 7200
    assert parse_duration(12) == 12
    assert parse_size("10MB") == 10_000_000
    assert parse_size("1KiB") == 1024
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("five minutes")


def test_wrong_type() -> None:
    message = error_for(with_("budget", experiments="many"))
    assert "budget.experiments" in message and "'many'" in message


def test_bad_regex_and_objective() -> None:
    assert "not a valid regex" in error_for(with_("metric", pattern="loss ([0-9"))
    assert "capture group" in error_for(with_("metric", pattern="loss [0-9.]+"))
    assert "not allowed" in error_for(with_("metric", objective="__import__('os').system('x')"))


def test_bad_duration_and_proposer() -> None:
    assert "run.timeout" in error_for(with_("run", timeout="soon"))
    message = error_for(with_("proposer", use="tpee"))
    assert "unknown proposer 'tpee'" in message and "did you mean 'tpe'" in message


def test_profile_section() -> None:
    spec = spec_from_dict(with_("profile", command="{python} -m cProfile -s cumtime bench.py", timeout="2m"))
    assert spec.profile is not None and spec.profile.timeout == 120 and spec.profile.top == 25
    assert "unknown key 'profile.comand'" in error_for(with_("profile", comand="x"))
    assert "profile.top" in error_for(with_("profile", command="x", top=0))


# -- several objectives ------------------------------------------------------------------------------

TWO = {"time_ms": "minimize", "accuracy": "maximize"}


def test_several_objectives_as_a_table_or_optunas_lists() -> None:
    table = spec_from_dict({**BASE, "metric": {"objectives": TWO}})
    lists = spec_from_dict(
        {**BASE, "metric": {"objectives": ["time_ms", "accuracy"], "directions": ["minimize", "maximize"]}}
    )
    for spec in (table, lists):
        assert spec.metric.objectives == TWO
        assert spec.metric.directions == ("minimize", "maximize")
        assert spec.metric.name == "time_ms"  # the first objective: the number shown where one is shown
        assert spec.study.direction == "minimize"
    first_maximized = spec_from_dict({**BASE, "metric": {"objectives": {"acc": "maximize", "ms": "minimize"}}})
    assert first_maximized.study.direction == "maximize"
    assert spec_from_dict(BASE).metric.objectives is None


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ({"objectives": {"time_ms": "min", "accuracy": "maximize"}}, "direction 'min' must be \"minimize\" or"),
        ({"objectives": ["a", "a"], "directions": ["minimize", "maximize"]}, "'a' is named twice"),
        ({"objectives": ["a", "b"], "directions": ["minimize"]}, "one direction per objective"),
        ({"objectives": {"a": "minimize"}}, "two or more objectives"),
        ({"objectives": {"a b": "minimize", "c": "maximize"}}, "must look like a metric name"),
        ({"objectives": "a", "directions": ["minimize"]}, "directions = [...] goes with objectives = [names]"),
        ({"name": "loss", "objectives": TWO}, "metric.name cannot be combined with metric.objectives"),
        ({"objectives": TWO, "pattern": "t ([0-9.]+)"}, "metric.pattern cannot be combined"),
        ({"objectives": TWO, "objective": "time_ms * 2"}, "metric.objective cannot be combined"),
    ],
)
def test_several_objectives_written_wrongly(metric: dict[str, object], expected: str) -> None:
    assert expected in error_for({**BASE, "metric": metric})


def test_a_repeated_objective_in_toml_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "autoresearch.toml"
    spec.write_text(
        '[run]\ncommand = "true"\n[metric]\nobjectives = { a = "minimize", a = "maximize" }\n'
        "[params]\nx = { low = 0.0, high = 1.0 }\n"
    )
    with pytest.raises(SpecError, match="Duplicate inline table key 'a'"):
        load_spec(spec)
