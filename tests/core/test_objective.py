"""The objective expression: arithmetic over metric names, and nothing else."""

from __future__ import annotations

import math

import pytest

from autoresearch.core.objective import ObjectiveExpression


def test_functions_and_dotted_names() -> None:
    assert ObjectiveExpression("max(a, b) - log(c)").evaluate({"a": 1, "b": 2, "c": math.e}) == pytest.approx(1.0)
    expression = ObjectiveExpression("val.loss + 2 * size")
    assert expression.names == {"val.loss", "size"}
    assert expression.evaluate({"val.loss": 0.5, "size": 3}) == 6.5
    with pytest.raises(KeyError, match="size"):
        expression.evaluate({"val.loss": 0.5})


@pytest.mark.parametrize("source", ["__import__('os')", "a.__class__", "open('x')", "[a]", "a if b else c", "a < b"])
def test_expression_refuses_anything_but_arithmetic(source: str) -> None:
    with pytest.raises(ValueError):
        ObjectiveExpression(source)
