"""The hybrid proposer (TPE proposing, the offline SmolLM2 taking a share) against TPE alone, on the quickstart.

Both arms run the real examples/quickstart study (a numpy MLP on the digits, five parameters)
with the same budget and the same study seeds: `tpe` alone, and `hybrid` with TPE as its sampler and
`llm:local` (SmolLM2-135M, offline, in-process) proposing `--share` of the candidates while it sees
TPE's best points. Printed: each seed's best validation log-loss for both arms, their medians, the
share of candidates the LLM's turns took, and the LLM's parse success rate (turns whose answer was a
usable point, at the first answer and after repair turns; the others fell back to TPE).

    python benchmarks/hybrid.py [--seeds 0,1,2,3,4] [--experiments 16] [--share 0.3] [--sampler tpe]
                                [--arms alone,hybrid]

`--arms` runs one arm only (a missing arm prints as nan), so that seeds and arms can run as separate
processes side by side on a machine with cores to spare.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop
from autoresearch.propose.hybrid import FALLBACK_SUFFIX, LLM_PREFIX
from autoresearch.spec import load_spec
from autoresearch.store.database import Store

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart"
# SmolLM2 is tiny: a short context and answer keep each turn to seconds on a loaded machine.
LLM_OPTIONS = "n_ctx = 4096\nmax_tokens = 200\nmax_attempts = 2\nlessons_every = 0\n"


def study(folder: Path, seed: int, experiments: int, arm: str, share: float, sampler: str) -> Path:
    shutil.copytree(QUICKSTART, folder, ignore=shutil.ignore_patterns(".autoresearch", "__pycache__"))
    toml = (folder / "autoresearch.toml").read_text()
    toml = toml.replace('direction = "minimize"', f'direction = "minimize"\nseed = {seed}')
    toml = toml.replace("experiments = 30", f"experiments = {experiments}")
    if arm == "hybrid":
        use = f"hybrid:{sampler}+llm:local"
        toml = toml.replace('use = "tpe"', f'use = "{use}"\n\n[proposer.options]\n{LLM_OPTIONS}')
        toml += f"\n[proposer.hybrid]\nllm_share = {share}\n"
    else:
        toml = toml.replace('use = "tpe"', f'use = "{sampler}"')
    (folder / "autoresearch.toml").write_text(toml)
    return folder


def run(folder: Path) -> list[Experiment]:
    spec = load_spec(folder)
    Loop(spec).run()
    store = Store(spec.study_dir)
    try:
        return store.experiments()
    finally:
        store.close()


def best(experiments: list[Experiment]) -> float:
    measured = [e.objective for e in experiments if e.decision in ("baseline", "kept") and e.objective is not None]
    return min(measured, default=math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--experiments", type=int, default=16)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--arms", default="alone,hybrid")
    args = parser.parse_args()
    arms = args.arms.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"quickstart, {args.experiments} experiments per study (baseline included), seeds {seeds}; "
        f"hybrid = {args.sampler} + llm:local (SmolLM2-135M) with llm_share {args.share}"
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    rows: list[tuple[int, float, float, int, int, int, int]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-") as tmp:
        for seed in seeds:
            folder = Path(tmp) / str(seed)
            alone = math.nan
            if "alone" in arms:
                alone = best(run(study(folder / "alone", seed, args.experiments, "alone", 0.0, args.sampler)))
            hybrid = []
            if "hybrid" in arms:
                hybrid = run(study(folder / "hybrid", seed, args.experiments, "hybrid", args.share, args.sampler))
            turns = [e for e in hybrid if "llm_failed" in e.extra.get("hybrid", {}) or _by_llm(e)]
            usable = [e for e in turns if _by_llm(e)]
            first = [e for e in usable if e.extra.get("llm", {}).get("attempts") == 1]
            candidates = max(len(hybrid) - 1, 0)
            rows.append((seed, alone, best(hybrid), candidates, len(turns), len(usable), len(first)))
            print(
                f"seed {seed}: {args.sampler} {alone:.4f}  hybrid {best(hybrid):.4f}  "
                f"(LLM turns {len(turns)}/{candidates}, usable {len(usable)}, at the first answer {len(first)})",
                flush=True,
            )
    elapsed = time.time() - started
    print()
    print(f"| seed | {args.sampler} alone: best val_loss | hybrid: best val_loss | LLM turns | usable LLM points |")
    print("| --- | --- | --- | --- | --- |")
    for seed, alone, hyb, candidates, turns, usable, _ in rows:
        print(f"| {seed} | {alone:.4f} | {hyb:.4f} | {turns}/{candidates} | {usable}/{turns} |")
    med_alone = statistics.median(r[1] for r in rows)
    med_hybrid = statistics.median(r[2] for r in rows)
    turns = sum(r[4] for r in rows)
    usable = sum(r[5] for r in rows)
    first = sum(r[6] for r in rows)
    print(f"| **median** | **{med_alone:.4f}** | **{med_hybrid:.4f}** | | |")
    print()
    print(
        f"median best: {args.sampler} alone {med_alone:.4f}, hybrid {med_hybrid:.4f} "
        f"({'no worse' if med_hybrid <= med_alone else 'worse'}); hybrid wins {sum(r[2] < r[1] for r in rows)}, "
        f"ties {sum(r[2] == r[1] for r in rows)}, losses {sum(r[2] > r[1] for r in rows)} of {len(rows)} seeds"
    )
    print(
        f"LLM parse success: {usable}/{turns} turns gave a usable point ({100 * usable / max(turns, 1):.0f}%), "
        f"{first}/{turns} at the first answer ({100 * first / max(turns, 1):.0f}%); the rest fell back to "
        f"{args.sampler}"
    )
    print(f"took {elapsed / 60:.1f} min; load average {os.getloadavg()[0]:.1f} at the end")


def _by_llm(e: Experiment) -> bool:
    return bool(e.strategy and e.strategy.startswith(LLM_PREFIX) and not e.strategy.endswith(FALLBACK_SUFFIX))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # llama-cpp-python's model destructor fails noisily at interpreter shutdown
