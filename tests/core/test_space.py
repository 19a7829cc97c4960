"""The params search space: one check of a point, strict for what runs, mending for an LLM's answer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from autoresearch.core.space import ParamSpec, check_params, fit, params_key, violation
from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, write_study

SPACE = {
    "lr": ParamSpec.model_validate({"low": 1e-4, "high": 0.3, "log": True}),
    "layers": ParamSpec.model_validate({"low": 1, "high": 8}),
    "width": ParamSpec.model_validate({"low": 0, "high": 100, "step": 10}),
    "hidden": ParamSpec.model_validate({"choices": [32, 64, 128]}),
    "act": ParamSpec.model_validate({"choices": ["relu", "gelu"]}),
}
VALID = {"lr": 0.01, "layers": 3, "width": 40, "hidden": 64, "act": "relu"}


def test_a_point_of_the_space_passes_unchanged() -> None:
    assert violation(SPACE, VALID) is None
    assert check_params(VALID, SPACE) == (VALID, [])


def test_strict_names_every_problem_at_once() -> None:
    reason = violation(SPACE, {"lr": 5.0, "layers": 2.5, "hidden": "64", "act": "tanh", "momentum": 0.9})
    assert reason is not None
    for part in (
        'unknown parameter(s) "momentum"',
        "lr=5.0 is out of range: it must be within [0.0001, 0.3]",
        "layers=2.5 must be an integer",
        'missing parameter "width"',
        'hidden="64" is not one of the choices [32, 64, 128]',
        'act="tanh" is not one of the choices ["relu", "gelu"]',
    ):
        assert part in reason, part


def test_strict_takes_numbers_only_as_numbers() -> None:
    assert violation(SPACE, {**VALID, "lr": "0.01"}) == 'lr="0.01" must be a number'
    assert violation(SPACE, {**VALID, "layers": True}) == "layers=true must be a number"
    assert violation(SPACE, {**VALID, "lr": math.nan}) == "lr=NaN must be a finite number"
    # A bool is not the choice 1, though True == 1 in Python: the params file would say `true`.
    flags = {"flag": ParamSpec.model_validate({"choices": [0, 1]})}
    assert violation(flags, {"flag": True}) is not None
    assert violation(flags, {"flag": 1.0}) is None  # a number equal to a choice is that choice


def test_mending_fixes_only_what_the_intent_makes_clear() -> None:
    given = {"lr": "0.01", "layers": 3.0, "width": 43, "hidden": "64", "act": "GELU "}
    fitted, filled = check_params(given, SPACE, mend=True)
    assert fitted == {"lr": 0.01, "layers": 3, "width": 40, "hidden": 64, "act": "gelu"}
    assert type(fitted["layers"]) is int and type(fitted["lr"]) is float and filled == []
    assert fit("width", 99, SPACE["width"], mend=True) == 100  # snapped, and never past high
    with pytest.raises(ValueError, match='lr="fast" must be a number'):
        fit("lr", "fast", SPACE["lr"], mend=True)


def test_missing_names_come_from_the_fallback_and_are_listed() -> None:
    fitted, filled = check_params({"lr": 0.1}, SPACE, {**VALID, "lr": 0.2}, mend=True)
    assert fitted == {**VALID, "lr": 0.1} and filled == ["layers", "width", "hidden", "act"]
    with pytest.raises(ValueError, match='"params" must be a JSON object'):
        check_params([0.1], SPACE)


def test_params_key_ignores_order_and_float_noise() -> None:
    assert params_key({"a": 0.1 + 0.2, "b": 1}) == params_key({"b": 1, "a": 0.3})
    assert params_key({"a": 0.3}) != params_key({"a": 0.31})


PROPOSE = """
import json, sys
study = json.load(sys.stdin)
if len(study["history"]) >= 2:  # the baseline and the rejected candidate
    print(json.dumps({"done": True}))
else:
    print(json.dumps({"params": {"x": 7.0}, "rationale": "beyond the space"}))
"""


def test_a_proposal_outside_the_space_is_rejected_before_it_runs(tmp_path: Path) -> None:
    root = write_study(
        tmp_path / "s",
        f"""
        [study]
        name = "s"
        [run]
        command = "{PYTHON} bowl.py {{params_file}}"
        [metric]
        name = "loss"
        [params]
        x = {{ low = 0.0, high = 5.0, default = 0.5 }}
        [proposer]
        use = "script:{PYTHON} propose.py"
        [budget]
        experiments = 3
        """,
        {
            "propose.py": PROPOSE,
            "bowl.py": "import json, sys\nx = json.load(open(sys.argv[1]))['x']\nprint('loss:', (x - 1) ** 2)\n",
        },
    )
    Loop(load_spec(root)).run()
    store = Store(root / ".autoresearch" / "s", create=False)
    try:
        experiments = store.experiments()
    finally:
        store.close()
    rejected = [e for e in experiments if e.decision == "rejected"]
    assert [e.params for e in rejected] == [{"x": 7.0}]
    assert rejected[0].reason == "x=7.0 is out of range: it must be within [0, 5]"
    assert rejected[0].exit_code is None  # never run
