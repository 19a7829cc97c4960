"""One inner study: a params-mode `autoresearch run` of a task, proposed by a candidate's inner proposer.

The inner study's folder is made inside the outer experiment's own output folder (or the holdout's), so
it shares nothing with the outer study: its own spec, its own store (`.autoresearch/` beside it), its own
sandbox. The inner experiment only hands the proposed point on (`cp`); the inner scorer (point.py)
computes the function from secret/task.json, the scorer's `data`, which the inner proposer never sees.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

from functions import gain

HERE = Path(__file__).resolve().parent

SPEC = """\
[study]
name = "{name}"
direction = "minimize"
seed = {seed}

[run]
command = "cp {{params_file}} {{output_dir}}/params.json"
timeout = "1m"

[metric]
name = "value"

[scorer]
command = {scorer}
data = ["secret"]
timeout = "1m"

[params]
{params}

[proposer]
use = {proposer}

[budget]
experiments = {experiments}

[sandbox]
readable = [{readable}]   # point.py, functions.py and the inner proposer (for a study under /tmp too)
"""


def write_study(folder: Path, task: dict, seed: int, proposer: Path, experiments: int) -> None:
    (folder / "secret").mkdir(parents=True)
    (folder / "secret" / "task.json").write_text(json.dumps(task))
    params = "\n".join(
        f"x{i} = {{ low = {task['low']}, high = {task['high']}, default = {start} }}"
        for i, start in enumerate(task["start"])
    )
    python = shlex.quote(sys.executable)
    spec = SPEC.format(
        name=f"{task['name']}-seed{seed}",
        seed=seed,
        scorer=json.dumps(f"{python} {shlex.quote(str(HERE / 'point.py'))} {{output_dir}}"),
        params=params,
        proposer=json.dumps(f"script:{python} {shlex.quote(str(proposer))}"),
        experiments=experiments,
        readable=", ".join(json.dumps(str(folder)) for folder in dict.fromkeys([HERE, proposer.parent])),
    )
    (folder / "autoresearch.toml").write_text(spec)


def run_study(folder: Path, task: dict, seed: int, proposer: Path, experiments: int, wrap: list[str]) -> float:
    """Run the inner study to its budget and return its gain (functions.gain), best against start."""
    write_study(folder, task, seed, proposer, experiments)
    argv = [*wrap, sys.executable, "-m", "autoresearch", "run", str(folder)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(
            f"inner study {folder.name} failed (exit code {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}"
        )
    from autoresearch import Study

    study = Study.open(folder)
    values = [e.objective for e in study.experiments() if e.objective is not None]
    baseline = next(e.objective for e in study.experiments() if e.decision == "baseline")
    if baseline is None or not values:
        sys.exit(f"inner study {folder.name} recorded no value")
    return gain(baseline, min(values))


def seeds(count: int) -> list[int]:
    return list(range(1, count + 1))
