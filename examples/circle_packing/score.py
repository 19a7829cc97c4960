"""The scorer (protected): checks the packing a run wrote, exactly, and prints the sum of its radii.

Usage: python score.py OUTPUT_DIR. It reads OUTPUT_DIR/circles.json: a list of exactly 26 [x, y, r]
lists of finite numbers. Valid means, with tolerance 0 (every float is compared as the exact rational
it stands for, so no rounding can let an overlap through):
  - r >= 0, and 0 <= x - r, x + r <= 1, 0 <= y - r, y + r <= 1 (inside the unit square);
  - (xi - xj)^2 + (yi - yj)^2 >= (ri + rj)^2 for every pair (no overlap; touching is allowed).
An invalid packing exits 1, so the experiment fails, whatever the run printed; a `feedback:` line says
why, for the proposer. The sum printed is computed here from the circles, never read from the run.
"""

import json
import math
import os
import sys
from fractions import Fraction
from pathlib import Path

N = 26
MAX_BYTES = 1 << 20


def invalid(why: str) -> None:
    print(f"feedback: invalid packing: {why}")
    print(f"invalid packing: {why}", file=sys.stderr)
    sys.exit(1)


def reject_constant(name: str) -> float:
    invalid(f"circles.json holds {name}; every value must be a finite number")
    raise AssertionError  # unreachable: invalid() exits


def read_circles(path: Path) -> list[tuple[float, float, float]]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # never follow a link the candidate planted
    except OSError as error:
        invalid(f"cannot read circles.json ({error.strerror})")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        invalid("circles.json is larger than 1 MiB")
    try:
        data = json.loads(raw, parse_constant=reject_constant)
    except ValueError as error:
        invalid(f"circles.json is not JSON ({error})")
    if not isinstance(data, list) or len(data) != N:
        got = f"{len(data)} items" if isinstance(data, list) else type(data).__name__
        invalid(f"expected a list of {N} circles, got {got}")
    circles = []
    for i, item in enumerate(data):
        if not isinstance(item, list) or len(item) != 3:
            invalid(f"circle {i} is not [x, y, r]")
        # bool is an int in Python; only real numbers count.
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in item):
            invalid(f"circle {i} has a value that is not a finite number: {item!r}")
        circles.append((float(item[0]), float(item[1]), float(item[2])))
    return circles


def check(circles: list[tuple[float, float, float]]) -> None:
    exact = [(Fraction(x), Fraction(y), Fraction(r)) for x, y, r in circles]
    for i, (x, y, r) in enumerate(exact):
        if r < 0:
            invalid(f"circle {i} has a negative radius {float(r)!r}")
        if x - r < 0 or x + r > 1 or y - r < 0 or y + r > 1:
            invalid(f"circle {i} (x={float(x)!r}, y={float(y)!r}, r={float(r)!r}) is not inside the unit square")
    for i in range(N):
        xi, yi, ri = exact[i]
        for j in range(i + 1, N):
            xj, yj, rj = exact[j]
            if (xi - xj) ** 2 + (yi - yj) ** 2 < (ri + rj) ** 2:
                gap = math.hypot(float(xi - xj), float(yi - yj)) - float(ri + rj)
                invalid(f"circles {i} and {j} overlap (gap {gap:.3g})")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python score.py OUTPUT_DIR")
    circles = read_circles(Path(sys.argv[1]) / "circles.json")
    check(circles)
    radii = [r for _, _, r in circles]
    print(f"sum_radii: {math.fsum(radii)!r}")
    # Features for MAP-Elites cells ([search.islands] features): how uneven the circles are.
    print(f"min_radius: {min(radii)!r}")
    print(f"max_radius: {max(radii)!r}")


if __name__ == "__main__":
    main()
