"""Several objectives: the Pareto front autoresearch finds with Optuna's NSGA-II against NSGA-II alone.

Both arms optimise examples/quadrature (time and error of a quadrature rule for pi, three parameters)
with the same budget, the same sampler settings and the same seeds:

- autoresearch: the real study (`[proposer] use = "nsga2"`), each candidate run in its sandbox as a
  subprocess, kept when no member of the front dominates it;
- Optuna alone: `optuna.create_study(directions=[...], sampler=NSGAIISampler(seed, population_size))`,
  its objective running the same `quad.py` as a subprocess and reading the same two numbers; the
  baseline's parameters are enqueued first, as autoresearch runs its baseline first.

Printed for each seed: the front's size and its hypervolume, both arms measured from one reference
point (core/pareto.reference_point over every point either arm measured, for that seed), then the
medians. Timings are real, so the figures vary a little from run to run.

    python benchmarks/multi_objective.py [--seeds 0,1,2] [--experiments 40] [--population 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from autoresearch.core.pareto import front, hypervolume, reference_point
from autoresearch.engine.loop import Loop
from autoresearch.propose.samplers import search_space
from autoresearch.spec import load_spec
from autoresearch.store.database import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quadrature"
Point = tuple[float, ...]


def autoresearch_arm(folder: Path, seed: int, experiments: int, population: int) -> list[Point]:
    """The study run by autoresearch; every measured point, in the order decided."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".autoresearch", "__pycache__"))
    toml = (folder / "autoresearch.toml").read_text()
    toml = toml.replace("[study]\n", f"[study]\nseed = {seed}\n", 1)
    toml = toml.replace("experiments = 40", f"experiments = {experiments}")
    toml = toml.replace("population_size = 10", f"population_size = {population}")
    (folder / "autoresearch.toml").write_text(toml)
    spec = load_spec(folder)
    Loop(spec).run()
    store = Store(spec.study_dir)
    try:
        names = list(spec.metric.objectives or ())
        rows = sorted(store.experiments(), key=lambda e: (e.finished_at or 0.0, e.id))
        return [p for p in (e.point(names) for e in rows) if p is not None]
    finally:
        store.close()


def optuna_arm(folder: Path, seed: int, experiments: int, population: int) -> list[Point]:
    """NSGA-II alone on the same objective function (quad.py in a subprocess); every completed trial's point."""
    spec = load_spec(EXAMPLE)
    names = list(spec.metric.objectives or ())
    folder.mkdir(parents=True)

    def objective(params: dict[str, object]) -> list[float]:
        params_file = folder / "params.json"
        params_file.write_text(json.dumps(params))
        out = subprocess.run(
            [sys.executable, str(EXAMPLE / "quad.py"), str(params_file)], capture_output=True, text=True, check=True
        ).stdout
        values = dict(line.split(": ") for line in out.splitlines())
        return [float(values[name]) for name in names]

    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    study = optuna.create_study(directions=list(spec.metric.directions), sampler=sampler)
    study.enqueue_trial({name: p.baseline_value() for name, p in spec.params.items()})
    space = search_space(spec)
    for _ in range(experiments):  # ask and tell: the loop Optuna's own optimize runs
        trial = study.ask(space)
        study.tell(trial, objective(trial.params))
    return [tuple(t.values) for t in study.trials if t.values is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--population", type=int, default=10)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_spec(EXAMPLE)
    directions = list(spec.metric.directions)
    print(
        f"# python benchmarks/multi_objective.py --seeds {args.seeds} --experiments {args.experiments} "
        f"--population {args.population}"
    )
    print(
        f"# {platform.python_version()} on {platform.machine()}, optuna {optuna.__version__}; "
        f"examples/quadrature, objectives {', '.join(f'{d} {n}' for n, d in (spec.metric.objectives or {}).items())}"
    )
    print(f"{'seed':>4}  {'autoresearch hypervolume':>24} {'front':>5}  {'optuna alone hypervolume':>24} {'front':>5}")
    figures: dict[str, list[tuple[float, int]]] = {"autoresearch": [], "optuna": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            arms = {
                "autoresearch": autoresearch_arm(Path(tmp, f"ar-{seed}"), seed, args.experiments, args.population),
                "optuna": optuna_arm(Path(tmp, f"opt-{seed}"), seed, args.experiments, args.population),
            }
            reference = reference_point([p for points in arms.values() for p in points], directions)
            row = []
            for arm, points in arms.items():
                members = front(points, directions, key=lambda p: p)
                figure = (hypervolume(members, reference, directions), len(members))
                figures[arm].append(figure)
                row.append(f"{figure[0]:>24.4f} {figure[1]:>5}")
            print(f"{seed:>4}  " + "  ".join(row))
    medians = [
        f"{statistics.median(h for h, _ in figures[arm]):>24.4f} {statistics.median(n for _, n in figures[arm]):>5g}"
        for arm in ("autoresearch", "optuna")
    ]
    print(f"{'median':>4}  " + "  ".join(medians))
    print(
        f"# {time.perf_counter() - started:.0f}s; hypervolume from each seed's reference point (a tenth of each "
        "objective's range beyond the worst value either arm measured)"
    )


if __name__ == "__main__":
    main()
