from __future__ import annotations

import math

import pytest

from autoresearch.core.direction import best_of, better, improvement, reached, score, sign


def test_sign_makes_every_direction_a_minimisation() -> None:
    assert sign("minimize") == 1.0 and sign("maximize") == -1.0
    with pytest.raises(ValueError, match="'minimize' or 'maximize', not 'minimise'"):
        sign("minimise")  # a typo must not silently mean maximise


@pytest.mark.parametrize(("direction", "good", "bad"), [("minimize", 1.0, 2.0), ("maximize", 2.0, 1.0)])
def test_better_improvement_and_reached_agree(direction: str, good: float, bad: float) -> None:
    assert better(good, bad, direction) and not better(bad, good, direction)
    assert not better(good, good, direction)  # strictly better: a tie is not an improvement
    assert improvement(good, bad, direction) == 1.0 and improvement(bad, good, direction) == -1.0
    assert reached(good, bad, direction) and reached(good, good, direction) and not reached(bad, good, direction)
    assert not reached(None, good, direction)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_missing_or_non_finite_objectives_are_infinitely_bad(direction: str) -> None:
    for value in (None, math.nan, math.inf, -math.inf):
        assert score(value, direction) == math.inf
        assert improvement(value, 0.0, direction) == -math.inf


def test_best_of_picks_by_direction_first_of_equals_and_skips_missing() -> None:
    rows = [("a", 3.0), ("b", None), ("c", 1.0), ("d", 1.0), ("e", math.nan), ("f", 5.0)]
    assert best_of(rows, "minimize", key=lambda r: r[1]) == ("c", 1.0)
    assert best_of(rows, "maximize", key=lambda r: r[1]) == ("f", 5.0)
    assert best_of([("x", None)], "minimize", key=lambda r: r[1]) is None
    assert best_of([], "maximize", key=lambda r: r[1]) is None
