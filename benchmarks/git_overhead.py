"""How much git costs per code-mode experiment.

Builds a repository of `n_files` files (a few KB each), then for each iteration does what code mode does
for one candidate: read the edited file from the parent commit's blobs, apply one SEARCH/REPLACE edit,
build the candidate's commit from blobs in a temporary index (commit + ref), then materialise exactly
that commit in the reused worktree (reset + clean). The experiment itself is simulated by one output
file, so the clean step has something to remove. Prints milliseconds per experiment (the target is
< 100 ms) and, as a baseline measured in the same run, the same cycle done with git's own checkout, clean
and commit in a worktree, without the isolation.

    PYTHONPATH=src python benchmarks/git_overhead.py [n_files] [iterations]
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoresearch.materialise.edits import parse_edits, plan_edits
from autoresearch.materialise.workspace import GitWorkspace


def _make_repo(root: Path, n_files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for index in range(n_files):
        file = root / f"pkg{index % 20:02d}" / f"module_{index:04d}.py"
        file.parent.mkdir(exist_ok=True)
        body = "".join(f"def f_{index}_{line}(x):\n    return x * {line} + {index}\n\n" for line in range(60))
        file.write_text(f"# module {index}\nVALUE = 0\n\n{body}")  # ~2.5 KB
    (root / "train.py").write_text("LR = 0.1\nEPOCHS = 10\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "init"],
        cwd=root,
        check=True,
    )


def measure(n_files: int = 1000, iterations: int = 50) -> dict[str, float]:
    """Median milliseconds per experiment: edit, commit (commit + ref), materialise, total."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-bench-") as temp:
        root = Path(temp) / "repo"
        _make_repo(root, n_files)
        workspace = GitWorkspace(root, "bench", Path(".autoresearch/bench/worktrees"))
        parent = workspace.baseline_commit()
        workspace.checkout(0, parent)  # creating the worktree is a one-off cost, not per experiment
        timings: dict[str, list[float]] = {name: [] for name in ("edit_ms", "commit_ms", "materialise_ms", "total_ms")}
        for iteration in range(iterations):
            start = time.perf_counter()
            edit = f"train.py\n<<<<<<< SEARCH\nLR = 0.1\n=======\nLR = 0.{iteration + 2}\n>>>>>>> REPLACE\n"
            modes = workspace.modes_with_parents(parent, ["train.py"])  # as code mode plans an edit set
            files = {path: data.decode() for path, data in workspace.blobs(parent, ["train.py"], modes).items()}
            planned = plan_edits(parse_edits(edit), files.get, editable=["train.py"], protected=["pkg*/**"])
            if workspace.path_problem(parent, sorted(planned), modes) is not None:
                raise RuntimeError("the edit was refused")
            edited = time.perf_counter()
            sha = workspace.commit_files(parent, planned, f"candidate {iteration}", experiment_id=iteration)
            committed = time.perf_counter()
            tree = workspace.checkout(0, sha)
            materialised = time.perf_counter()
            (tree / "run.log").write_text("experiment output\n")  # what a real run leaves behind
            timings["edit_ms"].append((edited - start) * 1000)
            timings["commit_ms"].append((committed - edited) * 1000)
            timings["materialise_ms"].append((materialised - committed) * 1000)
            timings["total_ms"].append((materialised - start) * 1000)
        if len(workspace.refs()) != iterations:
            raise RuntimeError("not every experiment got its ref")
        timings["plain_git_ms"] = _plain_git(root, parent, iterations)
        return {name: statistics.median(values) for name, values in timings.items()}


def _plain_git(root: Path, parent: str, iterations: int) -> list[float]:
    """The baseline, in the same repository: what a worktree flow with git's own porcelain costs (checkout
    -f + clean -ffdx of the parent, edit the file, update-index + write-tree + commit-tree + update-ref),
    with no isolation from the repository's config, filters or hooks."""
    tree = root.parent / "plain"
    env = {"PATH": os.environ["PATH"], "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tree, env=env, check=True, capture_output=True, text=True).stdout

    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), parent], cwd=root, check=True)
    timings = []
    for iteration in range(iterations):
        start = time.perf_counter()
        run("checkout", "-q", "-f", "--detach", parent)
        run("clean", "-q", "-ffdx")
        (tree / "train.py").write_text(f"LR = 0.{iteration + 2}\nEPOCHS = 10\n")
        run("update-index", "--add", "--", "train.py")
        sha = run("commit-tree", run("write-tree").strip(), "-p", "HEAD", "-m", "candidate").strip()
        run("update-ref", f"refs/plain/{iteration}", sha)
        timings.append((time.perf_counter() - start) * 1000)
        (tree / "run.log").write_text("experiment output\n")
    return timings


if __name__ == "__main__":
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"git overhead per experiment: {files} files, {rounds} iterations, medians")
    print(f"({version}, Python {platform.python_version()}, {platform.system()} {platform.machine()})")
    results = measure(files, rounds)
    for name, value in results.items():
        print(f"  {name:<15} {value:7.1f} ms")
    print(f"  total / plain git: {results['total_ms'] / results['plain_git_ms']:.2f}x (isolation's cost, same run)")
