"""examples/self_improve: an outer study whose candidate is a proposer, measured by real inner studies.

At a tiny budget (3 outer experiments, inner studies of 5 experiments on 2 tasks, 1 seed): the inner
studies run as real `autoresearch run`s in each experiment's own output folder, with stores of their own
and nothing in the outer store; the objective is their mean gain; and a proposer that hard-codes the
benchmark's optima wins on the benchmark but is vetoed by the holdout of unseen tasks.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from autoresearch import Study
from tests.conftest import cli
from tests.test_examples import rows, tracked_copy

# Experiment 2: a real improvement of the heuristics (small adaptive steps, one coordinate at a time).
# Experiment 3: a proposer that knows the benchmark: it looks its task up in tasks/bench.json (public)
# and proposes the optimum; on any other task it has nothing to propose.
TEST_PROPOSER = r"""
import json, re, sys
study = json.load(sys.stdin)
source = study["files"]["inner_propose.py"]
if len(study["history"]) == 1:
    for name, value in {"STEP": "0.1", "SHRINK": "0.7", "GROW": "1.3", "MOVE": '"coordinate"'}.items():
        source = re.sub(rf"^{name} = \S+", f"{name} = {value}", source, flags=re.M)
    print(json.dumps({"edits": {"inner_propose.py": source}, "strategy": "tuned"}))
elif len(study["history"]) == 2:
    print(json.dumps({"edits": {"inner_propose.py": open("overfit_propose.py").read()}, "strategy": "overfit"}))
else:
    print(json.dumps({"done": True}))
"""
OVERFIT_PROPOSER = r"""
import json, sys
study = json.load(sys.stdin)
tasks = {t["name"]: t for t in json.load(open(__file__.rsplit("/", 1)[0] + "/tasks/bench.json"))}
task = tasks.get(study["study"].rsplit("-seed", 1)[0])
names = sorted(study["space"])
if task is not None:  # the benchmark's optimum, known in advance (Rosenbrock's is the shift + 1)
    offset = 1.0 if task["function"] == "rosenbrock" else 0.0
    point = {name: task["shift"][int(name[1:])] + offset for name in names}
else:  # a task it has not seen: it has nothing to go on
    print(json.dumps({"done": True}))
    sys.exit(0)
print(json.dumps({"params": point, "strategy": "known optimum"}))
"""


def repository(tmp_path: Path) -> Path:
    root = tracked_copy("self_improve", tmp_path / "self_improve")
    (root / "test_propose.py").write_text(TEST_PROPOSER)
    (root / "overfit_propose.py").write_text(OVERFIT_PROPOSER)
    spec = (root / "autoresearch.toml").read_text()
    spec = spec.replace("--experiments 12 --seeds 2", "--experiments 5 --seeds 1 --tasks 2")
    spec = spec.replace("python3 evolve.py --seed 0", "python3 test_propose.py")
    spec = re.sub(r"experiments = 12\n", "experiments = 3\n", spec)
    spec = spec.replace("max_worsening = 0.1", "max_worsening = 0.005")
    (root / "autoresearch.toml").write_text(spec)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "ex"], cwd=root, check=True)
    return root


def inner_gain(folder: Path) -> float:
    """The gain of one inner study, recomputed here from its own store."""
    study = Study.open(folder)
    experiments = study.experiments()
    start = next(e.objective for e in experiments if e.decision == "baseline")
    best = min(e.objective for e in experiments if e.objective is not None)
    assert start is not None
    total = math.log10((start + 1e-4) / 1e-4)
    return min(max(math.log10((start + 1e-4) / (best + 1e-4)) / total, 0.0), 1.0)


@pytest.mark.timeout(900)  # about 20 s of CPU time, 1 to 2.5 minutes of wall time on a loaded machine
def test_self_improve_runs_nested_studies_and_its_holdout_vetoes_an_overfit_proposer(tmp_path: Path) -> None:
    root = repository(tmp_path)
    done = cli("run", str(root), timeout=840)
    assert done.returncode == 0, done.stdout + done.stderr
    study_dir = root / ".autoresearch" / "self-improve"
    outer = rows(study_dir)
    assert [e.id for e in outer] == [1, 2, 3]  # the outer store holds the outer experiments, no inner one
    baseline, tuned, overfit = outer

    for experiment in (baseline, tuned, overfit):
        inner = sorted((study_dir / "experiments" / f"{experiment.id:05d}" / "output" / "inner").iterdir())
        assert [f.name for f in inner] == ["rosenbrock-2d-seed1", "sphere-2d-seed1"]
        for folder in inner:  # a real study each: its own spec and store, its 5 experiments
            assert (folder / ".autoresearch" / folder.name / "study.db").is_file()
            assert len(Study.open(folder).experiments()) == 5
        # The objective is the mean of the inner studies' gains, as their stores record them.
        assert experiment.objective is not None
        assert abs(experiment.objective - statistics.fmean(inner_gain(f) for f in inner)) < 1e-5

    assert baseline.decision == "baseline" and tuned.decision == "kept"
    assert tuned.objective > baseline.objective
    # The overfit proposer solves the benchmark ...
    assert overfit.objective is not None and overfit.objective > 0.99 > tuned.objective
    # ... and loses on tasks it has not seen: the holdout vetoes it.
    assert overfit.decision == "rejected" and "holdout" in overfit.reason, overfit.reason
    assert baseline.holdout is not None and tuned.holdout is not None and overfit.holdout is not None
    assert overfit.holdout["holdout_improvement"] < tuned.holdout["holdout_improvement"] - 0.005
    assert not any(name.startswith("holdout") for name in overfit.metrics), overfit.metrics
    # The proposers never saw a holdout value.
    history = cli("history", "--json", str(root))
    assert history.returncode == 0 and "holdout_improvement" not in history.stdout
    assert json.loads(history.stdout)


# A candidate that looks for the task it is given: the inner study's secret/, the holdout's tasks, the
# benchmark's tasks; it finds its task by the start point (the space's defaults) and proposes the optimum.
PEEKING_PROPOSER = r"""
import json, pathlib, sys
study = json.load(sys.stdin)
here = pathlib.Path(__file__).resolve().parent
start = [study["space"][f"x{i}"]["default"] for i in range(len(study["space"]))]
found = None
for path in (pathlib.Path("secret/task.json"), here / "holdout" / "tasks.json", here / "tasks" / "bench.json"):
    try:
        tasks = json.loads(path.read_text())
    except (OSError, ValueError):
        continue
    for task in tasks if isinstance(tasks, list) else [tasks]:
        if task["start"] == start:
            found = task
point = {f"x{i}": study["space"][f"x{i}"]["low"] for i in range(len(start))}  # a corner: no gain
if found is not None:
    offset = 1.0 if found["function"] == "rosenbrock" else 0.0
    point = {f"x{i}": s + offset for i, s in enumerate(found["shift"])}
print(json.dumps({"params": point, "strategy": "peek"}))
"""


def test_the_holdout_tasks_are_out_of_a_candidates_reach(tmp_path: Path) -> None:
    assert shutil.which("bwrap"), "this defence is bubblewrap's: install it (apt-get install bubblewrap)"
    root = repository(tmp_path)
    (root / "inner_propose.py").write_text(PEEKING_PROPOSER)
    options = "--experiments 2 --seeds 1 --tasks 1"
    # Where the task is readable (the benchmark's are public), peeking solves it ...
    bench = cli("sandbox", "--", f"{{python}} bench.py $AUTORESEARCH_OUTPUT_DIR {options}", cwd=root)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert "improvement: 1.000000" in bench.stdout
    # ... on the holdout, neither holdout/tasks.json nor the inner scorer's secret/ is there to read.
    held = cli(
        "sandbox", "--as", "holdout", "--", f"{{python}} holdout.py $AUTORESEARCH_OUTPUT_DIR {options}", cwd=root
    )
    assert held.returncode == 0, held.stdout + held.stderr
    assert "holdout_improvement: 0.000000" in held.stdout
