"""How often each keep rule keeps a change that does nothing, and how often it finds a real one.

Two parts, both through the real loop and the real judge:

1. Simulated noise (autoresearch.run.simulate): every measurement is the next tick of one clock,
   under four noise models: iid (3% jitter), drift (AR(1), about 10% wander), load steps (phases 20-50%
   slower) and heavy tails (5% of runs hit by a large hiccup). Candidates are no-ops (true effect 0),
   or truly 5% or 10% better than their parent.
2. A real timing workload: examples/speedup's count_primes (after its early-exit and sqrt-bound
   edits), timed by a real subprocess per measurement, while a background process loads every core
   in phases (busy 0.5-2 s, idle 0.5-2 s). A candidate that is 5% or 10% better runs 5% or 10% fewer
   calls.

For each rule: false keeps among no-op candidates (goal: at most 1 in 100), the share of 5% and 10%
improvements kept (goal: at least 90% for 10%), and the measurements (runs) each decision cost.

    python benchmarks/noise.py [NO_OPS] [EFFECT_CANDIDATES] [REAL_NO_OPS] [REAL_EFFECT_CANDIDATES]
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoresearch.loop import Loop
from autoresearch.run.evaluate import CommandEvaluator, Evaluation
from autoresearch.run.simulate import NOISE_MODELS, Effects, Simulated, simulated_spec_data
from autoresearch.spec import Spec, spec_from_dict

# rule name -> ([noise] section, run.repeats)
RULES: dict[str, tuple[dict[str, object], int]] = {
    "strict, 3 repeats": ({"rule": "strict"}, 3),
    "significant, 3 repeats": ({"rule": "significant", "baseline_repeats": 5}, 3),
    "significant + recheck_best": ({"rule": "significant", "baseline_repeats": 5, "recheck_best": True}, 3),
    "paired (defaults)": ({"rule": "paired", "confirm": False}, 1),
}
EFFECTS = (0.0, 0.05, 0.10)


def simulated(rule: dict[str, object], repeats: int, model: str, effect: float, candidates: int) -> tuple[int, int]:
    """(kept, measurements) over CANDIDATES candidates of true EFFECT under the noise MODEL."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = spec_from_dict(simulated_spec_data(rule, candidates, repeats), root=Path(tmp))
        evaluator = Simulated(spec, NOISE_MODELS[model](11))
        loop = Loop(spec, evaluator=evaluator, proposer=Effects([effect]))
        loop.run()
        baseline = loop.baseline.extra.get("repeats", [0]) if loop.baseline else [0]
        kept = sum(1 for e in loop.history if e.decision == "kept")
        return kept, evaluator.measurements - len(baseline)


# -- the real timing workload ------------------------------------------------------------------------

TIMING = """
import sys, time

def count_primes(n):  # examples/speedup's hot.py after its early-exit and sqrt-bound edits
    count = 0
    for candidate in range(2, n):
        is_prime = True
        for divisor in range(2, int(candidate**0.5) + 1):
            if candidate % divisor == 0:
                is_prime = False
                break
        if is_prime:
            count += 1
    return count

calls = round(100 * (1.0 - float(sys.argv[1])))  # a candidate 10% better does 10% less work
best = float("inf")
for _ in range(5):  # the best of five timings, as a careful benchmark reports (docs/trust.md)
    start = time.perf_counter()
    for _ in range(calls):
        count_primes(400)
    best = min(best, time.perf_counter() - start)
print(f"seconds: {best:.6f}")
"""

HOG = """
import multiprocessing, random, sys, time

def spin(seed):
    rng = random.Random(seed)
    while True:
        end = time.monotonic() + rng.uniform(0.5, 2.0)
        while time.monotonic() < end:
            pass
        time.sleep(rng.uniform(0.5, 2.0))

if __name__ == "__main__":
    for i in range(multiprocessing.cpu_count()):
        multiprocessing.Process(target=spin, args=(i,), daemon=True).start()
    time.sleep(100000)
"""


class Counting(CommandEvaluator):
    """The real evaluator, counting the runs it makes (measurements per decision)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.measurements = 0

    def run_in(self, root: Path, experiment, proposal, **kwargs) -> Evaluation:  # type: ignore[no-untyped-def]
        count = kwargs.get("repeats") or self.repeats_for(experiment)
        if not experiment.extra.get("baseline") or kwargs.get("log_dir") is not None:  # all but the baseline's run
            self.measurements += count
        return super().run_in(root, experiment, proposal, **kwargs)


def real(rule: dict[str, object], repeats: int, effect: float, candidates: int, folder: Path) -> tuple[int, int]:
    (folder / "timing.py").write_text(TIMING)
    data = simulated_spec_data(rule, candidates, repeats)
    data["run"] = {"command": f"{sys.executable} -S timing.py {{effect}}", "repeats": repeats, "timeout": 60}
    spec = spec_from_dict(data, root=folder)
    evaluator = Counting(spec)
    loop = Loop(spec, evaluator=evaluator, proposer=Effects([effect]))
    loop.run()
    return sum(1 for e in loop.history if e.decision == "kept"), evaluator.measurements


def row(name: str, rule: str, results: list[tuple[int, int, int]]) -> str:
    """A Markdown row from (kept, candidates, measurements) per effect."""
    (fk, n0, m0), (k5, n5, m5), (k10, n10, m10) = results
    per_decision = (m0 + m5 + m10) / (n0 + n5 + n10)
    return f"| {name} | {rule} | {fk}/{n0} | {k5}/{n5} | {k10}/{n10} | {per_decision:.1f} |"


def main() -> None:
    no_ops = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    per_effect = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    real_no_ops = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    real_per_effect = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    print(
        f"noise benchmark: {no_ops} no-op and {per_effect} better candidates per simulated cell; "
        f"{real_no_ops} and {real_per_effect} on the real timing workload; {os.cpu_count()} CPUs"
    )
    print("| noise | rule | false keeps (no-op) | kept, 5% better | kept, 10% better | measurements / decision |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model in NOISE_MODELS:
        for name, (rule, repeats) in RULES.items():
            results = []
            for effect in EFFECTS:
                count = no_ops if effect == 0 else per_effect
                kept, measurements = simulated(rule, repeats, model, effect, count)
                results.append((kept, count, measurements))
            print(row(f"simulated: {model}", name, results), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        hog_file = Path(tmp) / "hog.py"
        hog_file.write_text(HOG)
        hog = subprocess.Popen([sys.executable, str(hog_file)], start_new_session=True)
        started = time.monotonic()
        try:
            for name, (rule, repeats) in RULES.items():
                results = []
                for effect in EFFECTS:
                    count = real_no_ops if effect == 0 else real_per_effect
                    folder = Path(tmp) / f"{random.random():.9f}"
                    folder.mkdir()
                    kept, measurements = real(rule, repeats, effect, count, folder)
                    results.append((kept, count, measurements))
                print(row("real timing, phased CPU hog", name, results), flush=True)
        finally:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()
        print(f"(real timing part: {time.monotonic() - started:.0f} s, {multiprocessing.cpu_count()} spinning hogs)")


if __name__ == "__main__":
    main()
