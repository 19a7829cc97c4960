"""Two inner proposers on the holdout tasks, seed by seed: the evolved one against the starting one.

    python compare.py STARTING.py EVOLVED.py [--experiments N] [--seeds S] [--first-seed K] [--out DIR]

Runs, by hand and outside any study, one inner study per holdout task, seed and proposer (the same
tasks, budget and seeds for both; seeds from 101, which the study's own runs never use) and prints each
proposer's mean gain per seed, and the paired difference (evolved - starting) with a 95% t interval
over seeds. `git show autoresearch/self-improve:examples/self_improve/inner_propose.py` (the path of
the study in its repository) prints the best proposer the study kept.
"""

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path

from inner import HERE, run_study

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1..30).
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131]
T95 += [2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def interval(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = T95[min(len(values) - 1, len(T95)) - 1] * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("starting", type=Path)
    parser.add_argument("evolved", type=Path)
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=101, help="seeds the study itself never used")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tasks = json.loads((HERE / "holdout" / "tasks.json").read_text())
    out = (args.out or Path(tempfile.mkdtemp(prefix="self-improve-compare-"))).resolve()
    per_seed: dict[str, list[float]] = {"starting": [], "evolved": []}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for which, proposer in (("starting", args.starting), ("evolved", args.evolved)):
            gains = [
                run_study(
                    out / which / f"{task['name']}-seed{seed}", task, seed, proposer.resolve(), args.experiments, []
                )
                for task in tasks
            ]
            per_seed[which].append(statistics.fmean(gains))
        print(
            f"seed {seed}: starting {per_seed['starting'][-1]:.3f}  evolved {per_seed['evolved'][-1]:.3f}", flush=True
        )
    for which, values in per_seed.items():
        mean, low, high = interval(values)
        print(f"{which}: holdout gain {mean:.3f} (95% t interval {low:.3f} to {high:.3f}, {len(values)} seeds)")
    difference = [e - s for s, e in zip(per_seed["starting"], per_seed["evolved"], strict=True)]
    mean, low, high = interval(difference)
    print(f"evolved - starting: {mean:+.3f} (95% t interval {low:+.3f} to {high:+.3f}, paired over seeds)")
    print(f"inner studies in {out}")


if __name__ == "__main__":
    main()
