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


# -- several objectives: settings that compare with one incumbent --------------------------------------

SEVERAL = {**BASE, "metric": {"objectives": {"time_ms": "minimize", "accuracy": "maximize"}}}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"study": {"direction": "maximize"}}, "study.direction does not apply with metric.objectives"),
        ({"noise": {"rule": "min_delta", "min_delta": 0.1}}, 'noise.rule = "min_delta" compares a candidate'),
        ({"noise": {"rule": "paired"}}, 'noise.rule = "paired" compares a candidate with one incumbent'),
        ({"noise": {"recheck_best": True}}, "noise.recheck_best re-measures"),
        ({"noise": {"confirm": True}}, "noise.confirm re-measures"),
        ({"prune": {"metric": "loss"}}, "[prune] ranks runs by one metric's curve"),
        ({"budget": {"target": 1.0}}, "budget.target stops the study when the objective reaches one value"),
        ({"stage": [{"name": "smoke", "command": "true", "max_worse": 0.1}]}, "stage 'smoke': max_worse"),
        ({"holdout": {"command": "true", "metric": "h", "max_worsening": 0.1}}, "holdout.max_worsening"),
        ({"search": {"policy": "islands"}}, 'search.policy = "islands" picks incumbents by one objective'),
    ],
)
def test_settings_meaningless_with_several_objectives_are_refused(extra: dict[str, object], expected: str) -> None:
    message = error_for({**SEVERAL, **extra})
    assert expected in message and ("Pareto front" in message or "own direction" in message)


def test_guards_and_plain_stages_go_with_several_objectives() -> None:
    spec = spec_from_dict(
        {
            **SEVERAL,
            "guard": [{"name": "mem", "metric": "memory_mb", "max": 100}],
            "stage": [{"name": "smoke", "command": "true"}],
        }
    )
    assert spec.guard[0].name == "mem" and spec.metric.objectives is not None
