"""Writes tasks/bench.json and holdout/tasks.json (seeded): shifted functions and their start points.

    python make_tasks.py

The shifts are drawn in [-2, 2] per coordinate and the starts 2 to 3 away from the optimum per coordinate
(inside the [-5, 5] box), so no task's optimum is a round point a proposer could guess.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = [("sphere-2d", "sphere", 2), ("rosenbrock-2d", "rosenbrock", 2), ("rastrigin-2d", "rastrigin", 2)]
HOLDOUT = [("ellipsoid-3d", "ellipsoid", 3), ("ackley-2d", "ackley", 2), ("sphere-4d", "sphere", 4)]


def task(name: str, function: str, dim: int, rng: random.Random, low: float = -5.0, high: float = 5.0) -> dict:
    shift = [round(rng.uniform(-2, 2), 3) for _ in range(dim)]
    start = [round(min(max(s + rng.choice([-1, 1]) * rng.uniform(2, 3), low), high), 3) for s in shift]
    return {"name": name, "function": function, "dim": dim, "shift": shift, "start": start, "low": low, "high": high}


def main() -> None:
    rng = random.Random(24)
    bench = [task(*t, rng) for t in BENCH]
    holdout = [task(*t, rng) for t in HOLDOUT]
    (HERE / "tasks" / "bench.json").write_text(json.dumps(bench, indent=1) + "\n")
    (HERE / "holdout" / "tasks.json").write_text(json.dumps(holdout, indent=1) + "\n")


if __name__ == "__main__":
    main()
