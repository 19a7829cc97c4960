"""Several objectives: which points dominate which, the Pareto front, and its hypervolume.

A point is a tuple of objective values, one per objective, each with its own direction. Everything here
works on scores (values turned so that larger is better) so that each rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from autoresearch.core.direction import sign

T = TypeVar("T")
Point = Sequence[float]


def scores(point: Point, directions: Sequence[str]) -> tuple[float, ...]:
    """POINT with every objective turned so that larger is better."""
    if len(point) != len(directions):
        raise ValueError(f"{len(point)} values for {len(directions)} objectives")
    return tuple(-sign(d) * v for v, d in zip(point, directions, strict=True))  # sign: lower is better


def dominates(a: Point, b: Point, directions: Sequence[str]) -> bool:
    """A is at least as good as B on every objective and better on one."""
    sa, sb = scores(a, directions), scores(b, directions)
    return all(x >= y for x, y in zip(sa, sb, strict=True)) and any(x > y for x, y in zip(sa, sb, strict=True))


def front(items: Iterable[T], directions: Sequence[str], key: Callable[[T], Point | None]) -> list[T]:
    """The items no other item dominates, in their given order; items whose KEY is None are left out.

    Of items with equal values, the first stays: a later copy of a member does not join the front.
    """
    members: list[tuple[T, Point]] = []
    for item in items:
        point = key(item)
        if point is None:
            continue
        if any(dominates(p, point, directions) or tuple(p) == tuple(point) for _, p in members):
            continue
        members = [(m, p) for m, p in members if not dominates(point, p, directions)]
        members.append((item, point))
    return [m for m, _ in members]


def hypervolume(points: Iterable[Point], reference: Point, directions: Sequence[str]) -> float:
    """The volume the points dominate up to REFERENCE (a point worse than all of them on every objective).

    Exact, by slicing along the first objective (fine for the handful of objectives a study has and
    fronts of hundreds of points). Points not strictly better than the reference on every objective add
    nothing.
    """
    ref = scores(reference, directions)
    inside = [s for s in (scores(p, directions) for p in points) if all(x > r for x, r in zip(s, ref, strict=True))]
    return _volume([tuple(x - r for x, r in zip(s, ref, strict=True)) for s in inside])


def _volume(points: list[tuple[float, ...]]) -> float:
    """Volume of the union of boxes [0, p] (all coordinates positive, larger is better)."""
    if not points:
        return 0.0
    if len(points[0]) == 1:
        return max(p[0] for p in points)
    # Sweep the first coordinate from the largest down: between two consecutive values, the slice is
    # the union of the remaining coordinates of every point reaching that far.
    ordered = sorted(points, key=lambda p: p[0], reverse=True)
    total = 0.0
    for i, point in enumerate(ordered):
        upper = point[0]
        lower = ordered[i + 1][0] if i + 1 < len(ordered) else 0.0
        if upper > lower:
            total += (upper - lower) * _volume([p[1:] for p in ordered[: i + 1]])
    return total


class Front(Generic[T]):
    """A Pareto front grown one item at a time (the study's, as experiments are decided): cost per item
    is the front's size, never the study's.

    The rule is `front`'s: an item joins when no member dominates it or equals it on every objective
    (the first of equal points stays), and members it dominates leave.
    """

    def __init__(self, directions: Sequence[str]) -> None:
        self.directions = tuple(directions)
        self._members: list[tuple[T, tuple[float, ...]]] = []

    @property
    def members(self) -> list[T]:
        """The items on the front, in the order they joined."""
        return [item for item, _ in self._members]

    @property
    def points(self) -> list[tuple[float, ...]]:
        return [point for _, point in self._members]

    def blocker(self, point: Point) -> T | None:
        """The member that keeps POINT off the front (dominates or equals it), or None if it would join."""
        for item, member in self._members:
            if tuple(member) == tuple(point) or dominates(member, point, self.directions):
                return item
        return None

    def dominated_by(self, point: Point) -> list[T]:
        """The members POINT dominates: those that leave when it joins."""
        return [item for item, member in self._members if dominates(point, member, self.directions)]

    def add(self, item: T, point: Point) -> list[T]:
        """Put ITEM on the front if it belongs there; returns the members it pushed off."""
        if self.blocker(point) is not None:
            return []
        pushed = self.dominated_by(point)
        self._members = [(m, p) for m, p in self._members if not dominates(point, p, self.directions)]
        self._members.append((item, tuple(float(v) for v in point)))
        return pushed

    def __len__(self) -> int:
        return len(self._members)


def reference_point(points: Iterable[Point], directions: Sequence[str]) -> tuple[float, ...]:
    """The hypervolume's reference for a study: on each objective, the worst value measured, moved a tenth
    of that objective's range further (or a tenth of its size, or 1, when all values are equal), so every
    measured point that is on the front adds a volume. POINTS: every measured point (not only the front's)."""
    columns = list(zip(*points, strict=True))
    if not columns:
        raise ValueError("no measured points to place a reference point from")
    return reference_from_bounds([(min(c), max(c)) for c in columns], directions)


def reference_from_bounds(bounds: Sequence[tuple[float, float]], directions: Sequence[str]) -> tuple[float, ...]:
    """`reference_point` from each objective's (lowest, highest) measured value."""
    reference = []
    for (low, high), direction in zip(bounds, directions, strict=True):
        worst = high if sign(direction) > 0 else low
        span = (high - low) or abs(worst) or 1.0
        reference.append(worst + sign(direction) * 0.1 * span)
    return tuple(reference)
