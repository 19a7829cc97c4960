"""When a metric printed several times is a curve, and when the value that counts is ambiguous.

The last line with a name counts. Printing it many times is normal (a loss per epoch: a curve), and a
curve raises no flag. What a flag is for is the shape of a fake line printed after the real one: the
counted value does not follow from what came before it. Structurally:

- printed twice with different values: one of two numbers, with no curve to tell which is real
  (a curve has at least CURVE_POINTS points);
- a curve whose last value lies beyond all its earlier values, by a step more than JUMP times the
  curve's recent pace (its largest of the RECENT_STEPS steps before): the counted value leaves the
  curve it ends. Real curves move at their own pace (a noisy one wanders inside its own range, a
  still-descending one keeps descending); a better line appended to a curve does not. A fake last
  value that passes gains at most the curve's best, or JUMP times its pace beyond its last point.

A candidate that fakes a whole curve, gentle last step included, is not caught here: that is what a
protected evaluator writing `[metric] json`, a `[scorer]` and the diff flags (docs/trust.md) are for.
"""

from __future__ import annotations

import itertools
import math

CURVE_POINTS = 3  # fewer values than this, printed differently, are not a curve
RECENT_STEPS = 3  # a curve's pace: the largest of its last few steps before the final one
JUMP = 3.0  # a final step this many times the pace, to beyond every earlier value, leaves the curve


def ambiguity(name: str, values: list[float]) -> str | None:
    """Why the last of VALUES (the ones printed for NAME, in order) is not a clear final value, or None."""
    if all(_same(v, values[0]) for v in values):  # printed once, or the same value again: nothing to choose
        return None
    if len(values) < CURVE_POINTS:
        return (
            f"printed {name} twice with different values ({_num(values[0])}, then {_num(values[1])}; the last "
            f"counts): a curve has {CURVE_POINTS} or more points"
        )
    steps = [abs(b - a) for a, b in itertools.pairwise(values) if math.isfinite(a) and math.isfinite(b)]
    last = abs(values[-1] - values[-2]) if math.isfinite(values[-1]) and math.isfinite(values[-2]) else None
    earlier = steps[:-1] if last is not None else steps
    before = [v for v in values[:-1] if math.isfinite(v)]
    beyond = not before or values[-1] < min(before) or values[-1] > max(before)
    pace = max(earlier[-RECENT_STEPS:], default=0.0)  # how far the curve was moving just before its end
    if last is not None and beyond and last > JUMP * pace:
        return (
            f"the last {name} printed ({_num(values[-1])}, which counts) leaves its curve: beyond all "
            f"{len(values) - 1} earlier values, {_num(last)} from the one before, more than {JUMP:g} times "
            f"the curve's recent steps ({_num(pace)})"
        )
    return None


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _num(value: float) -> str:
    return f"{value:.6g}"
