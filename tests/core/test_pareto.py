"""Pareto dominance, the front and its hypervolume, checked against brute force on random points."""

from __future__ import annotations

import itertools
import random

import pytest

from autoresearch.core.pareto import Front, dominates, front, hypervolume, reference_point

MIN_MAX = ("minimize", "maximize")


def test_dominance_respects_each_objectives_direction() -> None:
    # time (minimize), accuracy (maximize)
    assert dominates((1.0, 0.9), (2.0, 0.8), MIN_MAX)
    assert dominates((1.0, 0.9), (1.0, 0.8), MIN_MAX)  # equal on one, better on the other
    assert not dominates((1.0, 0.9), (1.0, 0.9), MIN_MAX)  # equal is not dominating
    assert not dominates((1.0, 0.8), (2.0, 0.9), MIN_MAX)  # a trade-off: neither dominates
    assert not dominates((2.0, 0.9), (1.0, 0.8), MIN_MAX)


def test_the_front_keeps_trade_offs_drops_dominated_and_later_duplicates() -> None:
    items = [("a", (3.0, 0.5)), ("b", (2.0, 0.7)), ("c", (2.5, 0.6)), ("d", (1.0, 0.4)), ("e", (2.0, 0.7)), ("f", None)]
    members = front(items, MIN_MAX, key=lambda item: item[1])
    assert [name for name, _ in members] == ["b", "d"]  # a and c dominated by b; e repeats b; f unmeasured


def test_the_front_matches_brute_force_on_random_points() -> None:
    rng = random.Random(7)
    for _ in range(50):
        points = [(rng.randint(0, 6), rng.randint(0, 6), rng.randint(0, 6)) for _ in range(rng.randint(1, 30))]
        directions = [rng.choice(["minimize", "maximize"]) for _ in range(3)]
        got = front(list(enumerate(points)), directions, key=lambda item: item[1])
        expected = [
            (i, p)
            for i, p in enumerate(points)
            if not any(dominates(q, p, directions) for q in points) and points.index(p) == i
        ]
        assert got == expected


def test_hypervolume_of_a_two_objective_front() -> None:
    # minimize both; reference (4, 4): boxes [1,4]x[3,4], [2,4]x[2,4], [3,4]x[1,4] -> 1 + 2 + 3 = 6
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4), ("minimize", "minimize")) == pytest.approx(6.0)
    # a dominated point and one beyond the reference add nothing
    assert hypervolume([(1, 3), (2, 2), (3, 1), (3, 3), (5, 0)], (4, 4), ("minimize", "minimize")) == pytest.approx(6.0)
    assert hypervolume([], (4, 4), ("minimize", "minimize")) == 0.0


def test_hypervolume_matches_a_grid_count_in_three_dimensions() -> None:
    rng = random.Random(3)
    directions = ("maximize", "minimize", "maximize")
    reference = (0, 10, 0)
    for _ in range(20):
        points = [(rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 9)) for _ in range(rng.randint(1, 8))]
        # count unit cells dominated by some point (integer coordinates make the count exact)
        cells = sum(
            1
            for x, y, z in itertools.product(range(9), range(1, 10), range(9))
            if any(px >= x + 1 and py <= y and pz >= z + 1 for px, py, pz in points)
        )
        assert hypervolume(points, reference, directions) == pytest.approx(cells)


def test_a_front_grown_one_item_at_a_time_is_the_front_of_all_items() -> None:
    rng = random.Random(11)
    for _ in range(30):
        points = [(rng.randint(0, 5), rng.randint(0, 5)) for _ in range(rng.randint(1, 25))]
        grown: Front[int] = Front(MIN_MAX)
        for i, point in enumerate(points):
            blocker, pushed = grown.blocker(point), grown.dominated_by(point)
            assert grown.add(i, point) == ([] if blocker is not None else pushed)
        expected = front(list(enumerate(points)), MIN_MAX, key=lambda item: item[1])
        assert grown.members == [i for i, _ in expected]
        assert grown.points == [tuple(float(v) for v in p) for _, p in expected]


def test_a_member_equal_on_every_objective_blocks_a_later_copy_and_a_dominating_point_pushes_members_off() -> None:
    grown: Front[str] = Front(MIN_MAX)
    assert grown.add("baseline", (3.0, 0.5)) == []
    assert grown.add("fast", (1.0, 0.4)) == []  # a trade-off: both stay
    assert grown.blocker((1.0, 0.4)) == "fast"  # a tie with a member does not join
    assert grown.add("copy", (1.0, 0.4)) == [] and grown.members == ["baseline", "fast"]
    assert grown.add("both", (0.5, 0.6)) == ["baseline", "fast"]  # better on both than each
    assert grown.members == ["both"] and len(grown) == 1


def test_the_reference_point_lies_beyond_the_worst_value_of_each_objective() -> None:
    points = [(1.0, 0.9), (3.0, 0.5), (2.0, 0.7)]
    assert reference_point(points, MIN_MAX) == pytest.approx((3.2, 0.46))
    assert reference_point([(2.0, 0.0)], MIN_MAX) == pytest.approx(
        (2.2, -0.1)
    )  # equal values: a tenth of the size, or 1
    assert hypervolume(points, reference_point(points, MIN_MAX), MIN_MAX) > 0
    with pytest.raises(ValueError, match="no measured points"):
        reference_point([], MIN_MAX)
