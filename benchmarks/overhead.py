"""The loop's own cost per experiment, side by side with a bare subprocess loop and Optuna's optimize.

All three run the same no-op experiment (`echo loss=1` through /bin/sh, as autoresearch runs commands)
N times in the same process, pinned to one core. Rows:

- bare subprocess.run loop: the floor, what running the command alone costs;
- optuna study.optimize: Optuna's own loop (RandomSampler, in-memory storage) calling the command;
- autoresearch params mode: the full loop (`random` proposer, SQLite store, params file, logs);
- autoresearch code mode: the full loop on a git repository of 1,000 files, one SEARCH/REPLACE edit per
  experiment, materialised in a reused worktree and committed (git's share broken down below).

Target: params-mode overhead under 10 ms per experiment above the bare loop; code mode's git work
under 100 ms per experiment.

    python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).parent))

from autoresearch.loop import Loop
from autoresearch.propose.base import Context, Proposal
from autoresearch.spec import spec_from_dict
from autoresearch.store import Experiment

COMMAND = "echo loss=1"


def bare(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(COMMAND, shell=True, capture_output=True, check=True)
    return time.perf_counter() - start


def optuna_optimize(n: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("x", -5, 5)
        out = subprocess.run(COMMAND, shell=True, capture_output=True, check=True)
        return float(out.stdout.decode().split("=")[1])

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - start


def autoresearch_params(n: int, root: Path) -> float:
    spec = spec_from_dict(
        {
            "study": {"name": "overhead"},
            "run": {"command": COMMAND},
            "metric": {"name": "loss"},
            "params": {"x": {"low": -5.0, "high": 5.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": n},
        },
        root=root,
    )
    start = time.perf_counter()
    Loop(spec).run()
    return time.perf_counter() - start


class _EditProposer:
    """Proposes one small edit per experiment, in-process, so only the loop and git are measured."""

    name = "bench"

    def propose(self, context: Context) -> Proposal:
        n = len(context.history)
        block = f"pkg00/module_0000.py\n<<<<<<< SEARCH\nVALUE = {n - 1}\n=======\nVALUE = {n}\n>>>>>>> REPLACE\n"
        return Proposal(edits=block, edit_format="search_replace", rationale=f"value {n}")

    def observe(self, experiment: Experiment) -> None:
        pass


def make_repo(root: Path, n_files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for index in range(n_files):
        file = root / f"pkg{index % 20:02d}" / f"module_{index:04d}.py"
        file.parent.mkdir(exist_ok=True)
        file.write_text("".join(f"def f_{index}_{i}(x):\n    return x * {i}\n\n" for i in range(40)) + "VALUE = 0\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "files"], cwd=root, check=True)


def autoresearch_code(n: int, root: Path) -> float:
    make_repo(root, 1000)
    spec = spec_from_dict(
        {
            "study": {"name": "overhead-code"},
            "run": {"command": COMMAND},
            "metric": {"name": "loss"},
            "code": {"editable": ["pkg00/module_0000.py"]},
            "proposer": {"use": "script:unused"},
            "budget": {"experiments": n},
        },
        root=root,
    )
    start = time.perf_counter()
    Loop(spec, proposer=_EditProposer()).run()
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    with tempfile.TemporaryDirectory() as temp:
        rows = [
            ("bare subprocess.run loop", bare(n)),
            ("optuna study.optimize", optuna_optimize(n)),
            ("autoresearch, params mode", autoresearch_params(n, Path(temp) / "params")),
            ("autoresearch, code mode (1,000 files)", autoresearch_code(n, Path(temp) / "code")),
        ]
    floor = rows[0][1] / n
    print(f"overhead per experiment, {n} experiments of `{COMMAND}`, pinned to one core")
    print(f"python {platform.python_version()}, optuna {optuna.__version__}, {platform.platform()}")
    print(f"{'loop':40} {'exp/s':>8} {'ms/exp':>8} {'vs bare':>8} {'overhead ms/exp':>16}")
    for name, seconds in rows:
        per = seconds / n
        print(f"{name:40} {n / seconds:8.1f} {1000 * per:8.2f} {per / floor:8.2f}x {1000 * (per - floor):16.2f}")
    params_overhead = 1000 * (rows[2][1] / n - floor)
    code_overhead = 1000 * (rows[3][1] / n - floor)
    print(f"params mode: {params_overhead:.2f} ms/experiment above the bare loop (target < 10 ms)")
    print(f"code mode: {code_overhead:.2f} ms/experiment above the bare loop, git included (target < 100 ms)")
    try:
        from git_overhead import measure

        parts = measure(n_files=1000, iterations=30)
        print("git alone, 1,000 files: " + ", ".join(f"{k} {v:.1f} ms" for k, v in parts.items()))
    except ImportError:
        pass


if __name__ == "__main__":
    main()
