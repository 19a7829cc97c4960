"""BBOB-like test functions, each shifted so that its optimum is not at a round point, and the normalised
gain that the benchmark and the holdout report per inner study.

A task is a JSON object: {"name", "function", "dim", "shift", "start", "low", "high"}. The function is
evaluated at z = x - shift (Rosenbrock's optimum is at z = 1, the others' at z = 0); every minimum is 0.
"""

import math
from collections.abc import Callable, Sequence

EPS = 1e-4  # reaching f <= EPS counts as solved: the gain saturates there


def sphere(z: Sequence[float]) -> float:
    return sum(v * v for v in z)


def ellipsoid(z: Sequence[float]) -> float:
    d = len(z)
    return sum(10 ** (6 * i / max(d - 1, 1)) * v * v for i, v in enumerate(z))


def rosenbrock(z: Sequence[float]) -> float:
    return sum(100 * (z[i + 1] - z[i] ** 2) ** 2 + (1 - z[i]) ** 2 for i in range(len(z) - 1))


def rastrigin(z: Sequence[float]) -> float:
    return 10 * len(z) + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in z)


def ackley(z: Sequence[float]) -> float:
    d = len(z)
    mean_sq = sum(v * v for v in z) / d
    mean_cos = sum(math.cos(2 * math.pi * v) for v in z) / d
    return max(-20 * math.exp(-0.2 * math.sqrt(mean_sq)) - math.exp(mean_cos) + 20 + math.e, 0.0)


FUNCTIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "sphere": sphere,
    "ellipsoid": ellipsoid,
    "rosenbrock": rosenbrock,
    "rastrigin": rastrigin,
    "ackley": ackley,
}


def value(task: dict, x: Sequence[float]) -> float:
    z = [xi - si for xi, si in zip(x, task["shift"], strict=True)]
    return FUNCTIONS[task["function"]](z)


def gain(start_value: float, best_value: float) -> float:
    """Orders of magnitude gained from the start towards f = 0, as a share of all there were to gain
    (down to EPS): 0 is no progress, 1 is solved. Scale-free, so that tasks weigh the same."""
    total = math.log10((start_value + EPS) / EPS)
    if total <= 0:
        return 1.0
    return min(max(math.log10((start_value + EPS) / (best_value + EPS)) / total, 0.0), 1.0)
