"""Approximate pi = integral of 4 / (1 + x^2) over [0, 1] with a quadrature rule: more points (and a better
rule, or exact summation) cost time and buy accuracy, so time and error trade off for real.

Prints `time_ms` (the best of three timed evaluations) and `log10_error` (of the absolute error).
"""

import json
import math
import sys
import time


def integrand(x: float) -> float:
    return 4.0 / (1.0 + x * x)


def nodes(method: str, points: int) -> tuple[list[float], list[float]]:
    """Where the rule evaluates the integrand on [0, 1], and each value's weight."""
    h = 1.0 / points
    if method == "midpoint":
        return [(i + 0.5) * h for i in range(points)], [h] * points
    if method == "trapezoid":
        weights = [h] * (points + 1)
        weights[0] = weights[-1] = h / 2
        return [i * h for i in range(points + 1)], weights
    if method == "simpson":  # an even number of intervals
        n = points + points % 2
        h = 1.0 / n
        weights = [h / 3 * (4 if i % 2 else 2) for i in range(n + 1)]
        weights[0] = weights[-1] = h / 3
        return [i * h for i in range(n + 1)], weights
    raise SystemExit(f"unknown method {method!r}")


def integrate(method: str, points: int, summation: str) -> float:
    xs, weights = nodes(method, points)
    terms = [w * integrand(x) for x, w in zip(xs, weights, strict=True)]
    return math.fsum(terms) if summation == "fsum" else sum(terms)


def main() -> None:
    with open(sys.argv[1]) as file:
        params = json.load(file)
    method, points, summation = params["method"], int(params["points"]), params["summation"]
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        value = integrate(method, points, summation)
        timings.append(time.perf_counter() - start)
    error = abs(value - math.pi)
    print(f"time_ms: {1000 * min(timings):.6f}")
    print(f"log10_error: {math.log10(max(error, 1e-17)):.6f}")


if __name__ == "__main__":
    main()
