"""What the tamper checks cost (docs/trust.md, "Tamper records").

Builds the repository of benchmarks/git_overhead.py (`n_files` files of about 2.5 KB), then, per
candidate commit (one edited file), times what the loop adds after each run: the objects the commit
adds to its parent checked against their ids, and the study branch read back (`after_run_ms`); and,
once per commit, the whole tree checked, as `status`, `best` and `apply` do (`whole_tree_ms`). The
baseline, in the same run: materialising the commit in a reused worktree, which every run does
anyway (`checkout_ms`).

    PYTHONPATH=src python benchmarks/tamper_checks.py [n_files] [iterations]
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_overhead import _make_repo

from autoresearch.materialise.workspace import GitWorkspace


def measure(n_files: int = 1000, iterations: int = 20) -> dict[str, float]:
    """Median milliseconds: after_run_ms, whole_tree_ms, checkout_ms."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-bench-") as temp:
        root = Path(temp) / "repo"
        _make_repo(root, n_files)
        workspace = GitWorkspace(root, "bench", Path(".autoresearch/bench/worktrees"))
        parent = workspace.baseline_commit()
        workspace.checkout(0, parent)  # creating the worktree is a one-off cost
        workspace.move_best(parent)
        timings: dict[str, list[float]] = {"after_run_ms": [], "whole_tree_ms": [], "checkout_ms": []}
        for iteration in range(iterations):
            sha = workspace.commit_files(parent, {"train.py": f"LR = 0.{iteration + 2}\n"}, f"candidate {iteration}")
            start = time.perf_counter()
            workspace.checkout(0, sha)
            checked_out = time.perf_counter()
            workspace.verify_commit(sha, only_new=True)
            if workspace.branch_commit() != parent:
                raise RuntimeError("the study branch moved")
            after_run = time.perf_counter()
            workspace.verify_commit(sha)
            whole = time.perf_counter()
            timings["checkout_ms"].append((checked_out - start) * 1000)
            timings["after_run_ms"].append((after_run - checked_out) * 1000)
            timings["whole_tree_ms"].append((whole - after_run) * 1000)
        return {name: statistics.median(values) for name, values in timings.items()}


if __name__ == "__main__":
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"tamper checks: {files} files, {rounds} candidate commits, medians")
    print(f"({version}, Python {platform.python_version()}, {platform.system()} {platform.machine()})")
    results = measure(files, rounds)
    for name, value in results.items():
        print(f"  {name:<15} {value:7.1f} ms")
    print(f"  after each run / checkout: {results['after_run_ms'] / results['checkout_ms']:.2f}x (same run)")
