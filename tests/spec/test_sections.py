"""Each section on its own: values with units, types, regexes and objectives, the proposer's name."""

from __future__ import annotations

import pytest

from autoresearch.spec import parse_duration, parse_size, spec_from_dict
from tests.spec.conftest import error_for, with_


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
