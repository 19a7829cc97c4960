"""The whole spec: the search space's types and baseline, and what must be there."""

from __future__ import annotations

import pytest

from autoresearch.spec import spec_from_dict
from tests.spec.conftest import BASE, error_for


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


def test_empty_search_space() -> None:
    assert "nothing to search" in error_for({"run": {"command": "x"}, "metric": {"name": "m"}})
    assert "choices must list at least one value" in error_for({**BASE, "params": {"c": {"choices": []}}})
