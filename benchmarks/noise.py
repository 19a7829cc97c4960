"""How often each keep rule keeps a change that does nothing, and how often it finds a real one.

Two parts, both through the real loop and the real judge:

1. Simulated noise (tests/support/simulate.py): every measurement is the next tick of one clock,
   under four noise models: iid (3% jitter), drift (AR(1), about 10% wander), load steps (phases 20-50%
   slower) and heavy tails (5% of runs hit by a large hiccup). Candidates are no-ops (true effect 0),
   or truly 5% or 10% better than their parent.
2. A real timing workload: examples/speedup's count_primes (after its early-exit and sqrt-bound
   edits), timed by a real subprocess per measurement (the best of five timings of 200 calls), while
   a background process loads every core in phases (busy 0.5-2 s, idle 0.5-2 s). A candidate that is
   5% or 10% better than the incumbent runs 5% or 10% fewer calls than the incumbent does. Two clocks:
   the wall clock (`time.perf_counter`), which counts the time other processes hold the CPU, and
   this process's CPU time (`time.process_time`), which does not (docs/trust.md, "Measuring timings").

For each rule: false keeps among no-op candidates (goal: at most 1 in 100), the share of 5% and 10%
improvements kept (goal: at least 90% for 10%), and the measurements (runs) each decision cost. The
machine's load average is printed before and after: the real rows depend on everything else running.

    python benchmarks/noise.py [NO_OPS] [EFFECT_CANDIDATES] [REAL_NO_OPS] [REAL_EFFECT_CANDIDATES]
        [--parts simulated,real] [--clocks wall,cpu] [--rules "paired (defaults)"]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.simulate import NOISE_MODELS, Effects, Simulated, simulated_spec_data

from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.engine.loop import Loop
from autoresearch.execute.command import CommandEvaluator
from autoresearch.propose.base import Context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the noise models


from autoresearch.spec import Spec, spec_from_dict

# rule name -> ([noise] section, run.repeats)
RULES: dict[str, tuple[dict[str, object], int]] = {
    "strict, 3 repeats": ({"rule": "strict"}, 3),
    "significant, 3 repeats": ({"rule": "significant", "baseline_repeats": 5}, 3),
    "significant + recheck_best": ({"rule": "significant", "baseline_repeats": 5, "recheck_best": True}, 3),
    "paired (defaults)": ({"rule": "paired", "confirm": False}, 1),
}
# the real workload only: more pairs per decision (a wall clock on a loaded machine needs them)
REAL_ONLY: dict[str, tuple[dict[str, object], int]] = {
    "paired, max_pairs = 64": ({"rule": "paired", "confirm": False, "max_pairs": 64}, 1),
}
EFFECTS = (0.0, 0.05, 0.10)
CLOCKS = {"wall": "wall clock", "cpu": "CPU time"}


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

calls = round(200 * float(sys.argv[1]))  # `work`: a candidate 10% better than its parent does 10% less
# wall: time.perf_counter, what the machine's load moves; cpu: time.process_time, this process's own
# CPU time, which other processes taking the CPU barely move (docs/trust.md, "Measuring timings")
clock = time.process_time if sys.argv[2] == "cpu" else time.perf_counter
best = float("inf")
for _ in range(5):  # the best of five timings, as a careful benchmark reports
    start = clock()
    for _ in range(calls):
        count_primes(400)
    best = min(best, clock() - start)
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


class LessWork:
    """Proposes `work` = the incumbent's work x (1 - EFFECT): each candidate is EFFECT better than the
    experiment it must beat, as in the simulation. (A fixed `work` per effect made every candidate after
    the first kept one a no-op against it, so at most one "better" candidate per cell could be kept.)"""

    name = "less-work"

    def __init__(self, effect: float) -> None:
        self.effect = effect
        self.count = itertools.count(1)  # `n` tells apart two proposals of the same work

    def propose(self, context: Context) -> Proposal:
        parent = float(context.best.params.get("work", 1.0)) if context.best and context.best.params else 1.0
        work = parent * (1.0 - self.effect)
        return Proposal(params={"work": work, "n": next(self.count)}, rationale=f"effect {self.effect:g}")

    def observe(self, experiment: Experiment) -> None:
        pass


class Counting(CommandEvaluator):
    """The real evaluator, counting the runs it makes (measurements per decision)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.measurements = 0

    def run_in(self, root: Path, experiment, proposal, **kwargs) -> Evaluation:  # type: ignore[no-untyped-def]
        count = kwargs.get("repeats") or self.repeats_for(experiment)
        if not experiment.is_baseline or kwargs.get("log_dir") is not None:  # all but the baseline's run
            self.measurements += count
        return super().run_in(root, experiment, proposal, **kwargs)


def real(
    rule: dict[str, object], repeats: int, effect: float, candidates: int, folder: Path, clock: str
) -> tuple[int, int]:
    (folder / "timing.py").write_text(TIMING)
    data = simulated_spec_data(rule, candidates, repeats)
    data["run"] = {"command": f"{sys.executable} -S timing.py {{work}} {clock}", "repeats": repeats, "timeout": 60}
    data["params"] = {"work": {"low": 0.0, "high": 1.0, "default": 1.0}, "n": {"low": 0, "high": 10**9, "default": 0}}
    spec = spec_from_dict(data, root=folder)
    evaluator = Counting(spec)
    loop = Loop(spec, evaluator=evaluator, proposer=LessWork(effect))
    loop.run()
    return sum(1 for e in loop.history if e.decision == "kept"), evaluator.measurements


def row(name: str, rule: str, results: list[tuple[int, int, int]]) -> str:
    """A Markdown row from (kept, candidates, measurements) per effect."""
    (fk, n0, m0), (k5, n5, m5), (k10, n10, m10) = results
    per_decision = (m0 + m5 + m10) / (n0 + n5 + n10)
    return f"| {name} | {rule} | {fk}/{n0} | {k5}/{n5} | {k10}/{n10} | {per_decision:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("no_ops", nargs="?", type=int, default=300, help="no-op candidates per simulated cell")
    parser.add_argument("per_effect", nargs="?", type=int, default=100, help="better candidates per simulated cell")
    parser.add_argument("real_no_ops", nargs="?", type=int, default=30, help="no-op candidates per real cell")
    parser.add_argument("real_per_effect", nargs="?", type=int, default=15, help="better candidates per real cell")
    parser.add_argument("--parts", default="simulated,real", help="simulated, real or both (comma separated)")
    parser.add_argument("--clocks", default="wall,cpu", help="the real workload's clocks: wall, cpu or both")
    every = [*RULES, *REAL_ONLY]
    parser.add_argument("--rules", default=";".join(every), help="the rules to run (names as in the table, ';' apart)")
    args = parser.parse_args()
    parts, clocks, rules = args.parts.split(","), args.clocks.split(","), args.rules.split(";")
    unknown = [r for r in rules if r not in every]
    if unknown:
        parser.error(f"unknown rules {unknown}; choose from {every}")
    print(
        f"noise benchmark: {args.no_ops} no-op and {args.per_effect} better candidates per simulated cell; "
        f"{args.real_no_ops} and {args.real_per_effect} on the real timing workload; {os.cpu_count()} CPUs; "
        f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    print("| noise | rule | false keeps (no-op) | kept, 5% better | kept, 10% better | measurements / decision |")
    print("| --- | --- | --- | --- | --- | --- |")
    if "simulated" in parts:
        for model in NOISE_MODELS:
            for name in [r for r in rules if r in RULES]:
                rule, repeats = RULES[name]
                results = []
                for effect in EFFECTS:
                    count = args.no_ops if effect == 0 else args.per_effect
                    kept, measurements = simulated(rule, repeats, model, effect, count)
                    results.append((kept, count, measurements))
                print(row(f"simulated: {model}", name, results), flush=True)
    if "real" not in parts:
        return
    with tempfile.TemporaryDirectory() as tmp:
        hog_file = Path(tmp) / "hog.py"
        hog_file.write_text(HOG)
        hog = subprocess.Popen([sys.executable, str(hog_file)], start_new_session=True)
        started = time.monotonic()
        try:
            for clock in clocks:
                for name in rules:
                    rule, repeats = {**RULES, **REAL_ONLY}[name]
                    results = []
                    for effect in EFFECTS:
                        count = args.real_no_ops if effect == 0 else args.real_per_effect
                        folder = Path(tempfile.mkdtemp(dir=tmp))
                        kept, measurements = real(rule, repeats, effect, count, folder, clock)
                        results.append((kept, count, measurements))
                    print(row(f"real timing ({CLOCKS[clock]}), phased CPU hog", name, results), flush=True)
        finally:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(
            f"(real timing part: {time.monotonic() - started:.0f} s, {multiprocessing.cpu_count()} spinning hogs, "
            f"load average after: {load})"
        )


if __name__ == "__main__":
    main()
