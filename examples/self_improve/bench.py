"""The experiment: the candidate inner proposer on the fixed benchmark of inner studies.

    python bench.py OUTPUT_DIR [--experiments N] [--seeds S] [--tasks K]

For each task of tasks/bench.json (the first K) and each seed 1..S, a params-mode inner study of N
experiments (baseline included) runs with inner_propose.py of this checkout as its `script:` proposer,
in OUTPUT_DIR/inner/<task>-seed<s>/. Prints one `gain_<task>: <mean over seeds>` per task, feedback for
proposers, and `improvement: <mean gain>` (the objective): 0 is no progress from the start, 1 solved.
"""

import argparse
import json
import statistics
from pathlib import Path

from inner import HERE, run_study, seeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--experiments", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=0, help="only the first K tasks (0: all)")
    args = parser.parse_args()
    tasks = json.loads((HERE / "tasks" / "bench.json").read_text())
    tasks = tasks[: args.tasks] if args.tasks else tasks
    gains = []
    for task in tasks:
        per_seed = []
        for seed in seeds(args.seeds):
            folder = args.output_dir.resolve() / "inner" / f"{task['name']}-seed{seed}"
            per_seed.append(run_study(folder, task, seed, HERE / "inner_propose.py", args.experiments, wrap=[]))
        gains += per_seed
        print(f"gain_{task['name'].replace('-', '_')}: {statistics.fmean(per_seed):.6f}")
        print(f"feedback: {task['name']}: gains {', '.join(f'{g:.3f}' for g in per_seed)} over seeds")
    print(f"improvement: {statistics.fmean(gains):.6f}")


if __name__ == "__main__":
    main()
