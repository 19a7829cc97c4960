"""The holdout: the candidate inner proposer on other tasks, whose definitions it must not be able to read.

    python holdout.py OUTPUT_DIR [--experiments N] [--seeds S] [--tasks K]

This process alone is shown holdout/tasks.json (other functions and dimensions, shifts of their own). It
runs one inner study per task and seed like bench.py, and prints `holdout_improvement: <mean gain>`. The
inner proposer is candidate code, so under bubblewrap each inner study runs in a nested sandbox in which
holdout/ is an empty folder: a task's definition reaches only that study's scorer (secret/, hidden from
the inner proposer by the inner study's own sandbox). Without bubblewrap, holdout/ stays readable, as
autoresearch warns for sandbox kind "none".
"""

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from inner import HERE, run_study, seeds

TASKS = HERE / "holdout" / "tasks.json"


def study_folder() -> Path:
    """The folder of the spec: this file's, or, in a candidate's worktree (inside .autoresearch/), its owner's."""
    return next((folder.parent for folder in HERE.parents if folder.name == ".autoresearch"), HERE)


def mask(out: Path) -> list[str]:
    """A bubblewrap prefix in which every copy of holdout/ is empty and only `out` (and /tmp) is writable."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        print("note: no bubblewrap here: the inner proposers could read holdout/tasks.json", file=sys.stderr)
        return []
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", "/tmp", "/tmp"]
    argv += ["--unshare-pid", "--die-with-parent"]
    for folder in {HERE / "holdout", study_folder() / "holdout"}:
        if folder.is_dir():
            argv += ["--tmpfs", str(folder)]
    return [*argv, "--bind", str(out), str(out)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--experiments", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=0, help="only the first K tasks (0: all)")
    args = parser.parse_args()
    tasks = json.loads(TASKS.read_text())  # read before any candidate code runs
    tasks = tasks[: args.tasks] if args.tasks else tasks
    out = args.output_dir.resolve()
    (out / "holdout").mkdir(parents=True, exist_ok=True)
    wrap = mask(out)
    gains = []
    for task in tasks:
        for seed in seeds(args.seeds):
            folder = out / "holdout" / f"h{len(gains) + 1}"  # no task name: the folder tells the proposer nothing
            gains.append(
                run_study(
                    folder,
                    task | {"name": f"h{len(gains) + 1}"},
                    seed,
                    HERE / "inner_propose.py",
                    args.experiments,
                    wrap,
                )
            )
    # Only the mean: no proposer reads this output, and it names no task anyway.
    print(f"holdout_improvement: {statistics.fmean(gains):.6f}")


if __name__ == "__main__":
    main()
