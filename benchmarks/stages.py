"""Staged evaluation on examples/trading: the same seeded study with and without a cheap [[stage]].

Each arm is a real study through the loop: the example copied to a fresh folder (its holdout left out,
so that only the search's runs are counted), TPE seeded with the run's seed, the same budget of
experiments. The staged arm adds one stage that backtests only the first two of the six yearly
windows (`strategy.py --windows 2`) and rejects a candidate whose two-window Sharpe is more than
MAX_WORSE_ABS below the incumbent's. Printed per arm: runs of the full command, stage runs, candidates
rejected at the stage, kept improvements, full runs and wall seconds per kept improvement, and the
best mean Sharpe found.

    python benchmarks/stages.py [--seeds 3] [--experiments 30] [--max-worse-abs 0.5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from autoresearch.core.experiment import Decision, Experiment
from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "trading"


def study(folder: Path, seed: int, experiments: int, stage: str) -> Path:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".autoresearch", "__pycache__"))
    toml = (folder / "autoresearch.toml").read_text()
    toml = toml.replace('direction = "maximize"', f'direction = "maximize"\nseed = {seed}')
    toml = toml.replace("experiments = 30", f"experiments = {experiments}")
    head, holdout = toml.split("[holdout]", 1)
    toml = head + "[integrity]" + holdout.split("[integrity]", 1)[1]  # the search's runs only
    (folder / "autoresearch.toml").write_text(toml + stage)
    return folder


def run(folder: Path) -> tuple[list[Experiment], float]:
    spec = load_spec(folder)
    start = time.perf_counter()
    Loop(spec).run()
    seconds = time.perf_counter() - start
    store = Store(spec.study_dir)
    try:
        return store.experiments(), seconds
    finally:
        store.close()


def figures(experiments: list[Experiment], seconds: float) -> dict[str, float]:
    at_stage = [e for e in experiments if e.extra.get("stage_rejected")]
    full = [e for e in experiments if e.exit_code is not None and not e.extra.get("stage_rejected")]
    kept = sum(e.decision == Decision.KEPT for e in experiments)
    best = max(
        (e.objective for e in experiments if e.decision in (Decision.BASELINE, Decision.KEPT) and e.objective),
        default=float("nan"),
    )
    return {
        "full runs": len(full),
        "stage runs": sum("stages" in e.extra for e in experiments),  # one stage: one run per experiment
        "rejected at the stage": len(at_stage),
        "kept": kept,
        "full runs per kept": len(full) / kept if kept else float("nan"),
        "seconds per kept": seconds / kept if kept else float("nan"),
        "seconds": seconds,
        "best sharpe": best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--experiments", type=int, default=30)
    parser.add_argument("--max-worse-abs", type=float, default=0.5)
    args = parser.parse_args()
    stage = (
        '\n[[stage]]\nname = "two_windows"\ncommand = "{python} strategy.py --config {params_file} --windows 2"\n'
        f"max_worse_abs = {args.max_worse_abs}\n"
    )
    arms = {"full only": "", "with stage": stage}
    rows: dict[str, list[dict[str, float]]] = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for arm, extra in arms.items():
                folder = study(Path(tmp) / f"{arm.replace(' ', '-')}-{seed}", seed, args.experiments, extra)
                rows[arm].append(figures(*run(folder)))
                print(f"seed {seed} {arm}: {rows[arm][-1]}", flush=True)
    print(f"\n{args.seeds} seeds x {args.experiments} experiments, medians (examples/trading, TPE)")
    keys = list(rows["full only"][0])
    print(f"{'':24}" + "".join(f"{arm:>14}" for arm in arms))
    for key in keys:
        print(f"{key:24}" + "".join(f"{statistics.median(r[key] for r in rows[arm]):14.3g}" for arm in arms))


if __name__ == "__main__":
    main()
