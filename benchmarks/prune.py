"""Early stopping of losing runs: compute spent and best found, with and without `[prune]`, at equal budget.

A training-like study through the real command line: each run prints a validation loss per epoch
(EPOCHS epochs, EPOCH_SECONDS of real sleep each) that falls towards a final value set by the learning
rate and momentum, with seeded noise per epoch. Each configuration (no pruning, `median`, `halving`,
`incumbent`) runs the same TPE study (same seed, same number of experiments) for each of SEEDS seeds;
printed side by side: the compute spent (the sum of the runs' seconds, start-up included), the best
found, and the seeded check: the simulation knows every candidate's true curve, so it counts the pruned
candidates that would have been kept (their full run's final value beats the best measured before them).

A run's start-up (the interpreter, the sandbox: about 0.1-0.25 s here) is paid by pruned runs too, so
the saving grows with the epoch's length (--epoch-seconds). With --crossing c, a learning rate below
the best one also learns slower ((0.01 / lr)^c times), so curves cross: late bloomers that a rule
comparing steps may prune.

    python benchmarks/prune.py [--seeds 5] [--experiments 25] [--epoch-seconds 0.05] [--crossing 0]
                               [--only median,halving,incumbent]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from autoresearch.core.experiment import Decision
from autoresearch.store.database import Store

EPOCHS = 12
EPOCH_SECONDS = 0.05  # the default; --epoch-seconds sets it

# The simulated training curve, shared by the experiment script and the seeded check below.
CURVE = """
import math, random

def curve(lr, momentum, seed):
    final = 0.2 + 0.5 * (math.log10(lr) + 2.0) ** 2 + 0.8 * (momentum - 0.9) ** 2
    noise = random.Random(f"{lr!r} {momentum!r} {seed}")
    epochs = range(1, EPOCHS + 1)
    pace = 3.0 * (0.01 / lr) ** CROSSING  # epochs to fall by 1/e: with CROSSING > 0 a lower rate learns slower
    return [final + (1.5 - final) * math.exp(-epoch / pace) + 0.01 * noise.gauss(0, 1) for epoch in epochs]
"""

TRAIN = """
import json, os, sys, time
p = json.load(open(sys.argv[1]))
for value in curve(p["lr"], p["momentum"], os.environ["AUTORESEARCH_SEED"]):
    time.sleep(EPOCH_SECONDS)
    print(f"val_loss: {value:.6f}", flush=True)
"""

CONFIGS: dict[str, str] = {
    "no pruning": "",
    "median (warmup 2, min_runs 3)": '[prune]\nrule = "median"\nwarmup_steps = 2\nmin_runs = 3\n',
    "halving (eta 3, min_runs 3)": '[prune]\nrule = "halving"\neta = 3\nmin_runs = 3\n',
    "incumbent (factor 1)": '[prune]\nrule = "incumbent"\nfactor = 1\n',
    "incumbent (factor 1.5, the default)": '[prune]\nrule = "incumbent"\n',
}


def spec(seed: int, experiments: int, prune: str) -> str:
    return (
        textwrap.dedent(
            f"""
            [study]
            name = "train"
            seed = {seed}
            [run]
            command = "{{python}} train.py {{params_file}}"
            timeout = "60s"
            [metric]
            name = "val_loss"
            [params]
            lr = {{ low = 1e-4, high = 1.0, log = true, default = 0.3 }}
            momentum = {{ low = 0.0, high = 0.99, default = 0.5 }}
            [proposer]
            use = "tpe"
            [budget]
            experiments = {experiments}
            """
        )
        + prune
    )


def study(
    seed: int, experiments: int, prune: str, root: Path, epoch_seconds: float, crossing: float = 0.0
) -> dict[str, Any]:
    root.mkdir(parents=True)
    (root / "autoresearch.toml").write_text(spec(seed, experiments, prune))
    constants = f"EPOCHS = {EPOCHS}\nEPOCH_SECONDS = {epoch_seconds}\nCROSSING = {crossing}\n"
    (root / "train.py").write_text(constants + CURVE + TRAIN)
    done = subprocess.run([sys.executable, "-m", "autoresearch", "run"], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the study failed: {done.stderr[-2000:]}")
    store = Store(root / ".autoresearch" / "train", create=False)
    try:
        rows = store.experiments()
    finally:
        store.close()
    namespace: dict[str, Any] = {}
    # The simulation's own curve: each candidate's true full run.
    exec(f"EPOCHS = {EPOCHS}\nCROSSING = {crossing}\n" + CURVE, namespace)
    best_so_far, missed = float("inf"), 0
    for row in rows:  # in id order, as they finished (one worker)
        if row.decision == Decision.PRUNED and row.params is not None:
            full = namespace["curve"](row.params["lr"], row.params["momentum"], str(seed))[-1]
            missed += full < best_so_far
        if row.ok and row.objective is not None:
            best_so_far = min(best_so_far, row.objective)
    return {
        "seconds": sum(row.duration or 0.0 for row in rows),
        "best": min(row.objective for row in rows if row.ok and row.objective is not None),
        "pruned": sum(row.decision == Decision.PRUNED for row in rows),
        "missed": missed,
        "experiments": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--experiments", type=int, default=25)
    parser.add_argument("--epoch-seconds", type=float, default=EPOCH_SECONDS)
    parser.add_argument(
        "--crossing",
        type=float,
        default=0.0,
        help="a run learns (0.01 / lr)^CROSSING times slower: curves of different rates cross (default 0)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated rules to run beside no pruning (median,halving,incumbent)"
    )
    args = parser.parse_args()
    chosen = {rule.strip() for rule in args.only.split(",") if rule.strip()}
    configs = {name: prune for name, prune in CONFIGS.items() if not prune or not chosen or name.split()[0] in chosen}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for index, (name, prune) in enumerate(configs.items()):
                folder = Path(tmp) / f"{seed}-{index}"
                results[name].append(study(seed, args.experiments, prune, folder, args.epoch_seconds, args.crossing))
    baseline = sum(r["seconds"] for r in results["no pruning"])
    print(
        f"{args.seeds} seeds x {args.experiments} experiments, TPE; "
        f"{EPOCHS} epochs of {args.epoch_seconds}s per full run"
        + (f"; lower learning rates learn slower (crossing {args.crossing})" if args.crossing else "")
        + "\n"
    )
    print(
        "| configuration | run seconds (sum) | compute vs no pruning | best found (median over seeds) "
        "| best per seed | pruned | true improvements pruned |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        seconds = sum(r["seconds"] for r in runs)
        bests = [r["best"] for r in runs]
        print(
            f"| {name} | {seconds:.1f} | {baseline / seconds:.2f}x less | {statistics.median(bests):.4f} | "
            f"{' '.join(f'{b:.3f}' for b in bests)} | {sum(r['pruned'] for r in runs)} of "
            f"{sum(r['experiments'] for r in runs)} | {sum(r['missed'] for r in runs)} |"
        )


if __name__ == "__main__":
    main()
