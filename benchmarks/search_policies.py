"""Search policies compared on examples/circle_packing, offline: the same mutation operator, the same budget.

Each run is a real study through the command line: the example copied into a fresh git repository,
`[search] policy` set, the mutation operator (mutate.py, no LLM) seeded with the run's seed, and
`--experiments N` as the budget (a candidate rejected as a near-duplicate is an experiment that did
not run: it uses budget, not a run). For each policy: the median over seeds of the best sum of radii,
and of the experiments needed to first reach 2.5, 2.6 and 2.62 (">N" where fewer than half the seeds
reached it; the count that did is shown), and the median number of candidates rejected by novelty.

    python benchmarks/search_policies.py [--seeds 10] [--experiments 60] [--jobs 2] [--quick] [--results FILE]

Each finished study's figures are appended to FILE (default search_policies.jsonl in the current
folder): a rerun with the same settings skips them, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autoresearch.store.database import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "circle_packing"
TARGETS = (2.5, 2.6, 2.62)
# name -> what is appended to the example's spec
POLICIES: dict[str, str] = {
    "greedy": '[search]\npolicy = "greedy"\n',
    "tree": '[search]\npolicy = "tree"\n',
    # Text similarity, threshold 0.996: the operator changes 1-3 numbers of a 1,900-token file, which
    # scores 0.997-0.998 for one number and 0.994-0.996 for two or three; so a candidate that changes one
    # number only is a near-duplicate (after 3 such rejections in a row on an island, one runs anyway).
    # MiniLM scores all of these about 0.9999 (docs/search.md).
    "islands": '[search]\npolicy = "islands"\n[search.islands]\nembedder = "text"\nnovelty_threshold = 0.996\n',
    "islands-no-novelty": '[search]\npolicy = "islands"\n[search.islands]\nnovelty = false\n',
}


def study(policy: str, seed: int, experiments: int, root: Path) -> dict[str, object]:
    """Run one study; return its best, the experiments needed to reach each target, and rejections."""
    folder = root / f"{policy}-{seed}"
    files = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=EXAMPLE, capture_output=True, check=True)
    for name in (n for n in files.stdout.decode().split("\0") if n):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / name, folder / name)
    spec = (folder / "autoresearch.toml").read_text()
    spec = spec.replace("mutate.py --seed 0", f"mutate.py --seed {seed}")
    spec = spec.replace('direction = "maximize"', f'direction = "maximize"\nseed = {seed}')
    (folder / "autoresearch.toml").write_text(spec + "\n" + POLICIES[policy])
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "autoresearch", "run", "--experiments", str(experiments), str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{policy} seed {seed} failed:\n{done.stderr[-3000:]}")
    store = Store(folder / ".autoresearch" / "circle-packing", create=False)
    try:
        rows = store.experiments()
    finally:
        store.close()
    best = -math.inf
    reached: dict[float, int | None] = dict.fromkeys(TARGETS)
    for number, row in enumerate(rows, 1):
        if row.decision in ("baseline", "kept", "reverted") and row.objective is not None:
            best = max(best, row.objective)
        for target in TARGETS:
            if reached[target] is None and best >= target:
                reached[target] = number
    rejected = sum(1 for row in rows if row.decision == "rejected" and "near-duplicate" in (row.reason or ""))
    return {"best": best, "reached": reached, "novelty": rejected, "seconds": time.perf_counter() - started}


def median_steps(values: list[int | None], budget: int) -> str:
    hits = sorted(v for v in values if v is not None)
    if len(hits) * 2 < len(values):
        return f">{budget} ({len(hits)}/{len(values)})"
    padded = hits + [math.inf] * (len(values) - len(hits))
    middle = statistics.median(padded)
    return f"{middle:g} ({len(hits)}/{len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--experiments", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2, help="studies run at once")
    parser.add_argument("--quick", action="store_true", help="3 seeds")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated, from: " + ", ".join(POLICIES))
    parser.add_argument("--results", default="search_policies.jsonl", help="finished studies, kept for a resume")
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    policies = [p.strip() for p in args.policies.split(",")]
    started = time.perf_counter()
    results: dict[tuple[str, int], dict[str, object]] = {}
    saved = Path(args.results)
    if saved.exists():
        for line in saved.read_text().splitlines():
            row = json.loads(line)
            if row["experiments"] == args.experiments:
                row["reached"] = {float(k): v for k, v in row["reached"].items()}
                results[(row["policy"], row["seed"])] = row

    def one(policy: str, seed: int) -> None:
        with tempfile.TemporaryDirectory(prefix="search_policies_") as tmp:
            row = study(policy, seed, args.experiments, Path(tmp))
        row |= {"policy": policy, "seed": seed, "experiments": args.experiments}
        results[(policy, seed)] = row
        with saved.open("a") as handle:  # one line per study, written whole: a resume skips it
            handle.write(json.dumps(row) + "\n")

    with ThreadPoolExecutor(args.jobs) as pool:
        # Seed by seed, every policy: a benchmark cut short still compares them all.
        todo = [(p, s) for s in range(seeds) for p in policies if (p, s) not in results]
        for job in [pool.submit(one, p, s) for p, s in todo]:
            job.result()
    print(
        f"circle packing, n=26: {seeds} seeds x {args.experiments} experiments per policy, mutate.py (offline), "
        f"{args.jobs} studies at once, {time.perf_counter() - started:.0f} s in all"
    )
    print()
    header = ["policy", "median best", *(f"experiments to {t}" for t in TARGETS), "novelty rejections"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for policy in policies:
        runs = [results[(policy, s)] for s in range(seeds)]
        bests = [float(r["best"]) for r in runs]  # type: ignore[arg-type]
        cells = [f"`{policy}`", f"{statistics.median(bests):.4f} ({min(bests):.4f}-{max(bests):.4f})"]
        for target in TARGETS:
            cells.append(median_steps([r["reached"][target] for r in runs], args.experiments))  # type: ignore[index]
        cells.append(f"{statistics.median(int(r['novelty']) for r in runs):g}")  # type: ignore[call-overload]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
