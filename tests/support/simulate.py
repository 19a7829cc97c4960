"""A simulated evaluator: measurements drawn from a noise model on a virtual clock, no processes.

It runs the real loop and the real judge against noise that looks like a shared machine's: drifting
clocks, load phases, heavy tails. Each candidate's true value is its parent's times (1 - effect)
(`effect` is a parameter of the proposal: 0 for a no-op change), so the rate at which a keep rule
keeps no-op candidates, and detects real ones, can be counted exactly. Every measurement, of any
experiment, is the next tick of one clock: what runs close in time sees the same conditions.
Used by benchmarks/noise.py and the noise tests.

    loop = Loop(spec, evaluator=Simulated(spec, NOISE_MODELS["drift"](seed=1)), proposer=Effects([0.0]))
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute.evaluate import Evaluator, aggregate
from autoresearch.propose.base import Context
from autoresearch.spec import Spec


class NoiseModel:
    """Multiplies a true value by the conditions at the next tick of the clock."""

    def __init__(self, seed: int, sigma: float = 0.03) -> None:
        self.rng = random.Random(seed)
        self.sigma = sigma  # per-measurement jitter, as a fraction of the value
        self.tick = 0

    def factor(self) -> float:
        """The machine's slowness now (1.0: nominal), beyond the jitter; advances with each tick."""
        return 1.0

    def measure(self, true: float) -> float:
        self.tick += 1
        return true * self.factor() * (1.0 + self.sigma * self.rng.gauss(0.0, 1.0))


class Drift(NoiseModel):
    """A slowly wandering speed: AR(1) on the log scale (about 10% standard deviation, long memory)."""

    def __init__(self, seed: int, sigma: float = 0.03, phi: float = 0.98, spread: float = 0.10) -> None:
        super().__init__(seed, sigma)
        self.phi, self.step, self.level = phi, spread * math.sqrt(1 - phi * phi), 0.0

    def factor(self) -> float:
        self.level = self.phi * self.level + self.rng.gauss(0.0, self.step)
        return math.exp(self.level)


class LoadSteps(NoiseModel):
    """Phases in which another job slows everything by 20-50%: entered with 5% chance per tick,
    lasting 10 ticks on average."""

    def __init__(self, seed: int, sigma: float = 0.03, start: float = 0.05, mean_length: float = 10.0) -> None:
        super().__init__(seed, sigma)
        self.start, self.end, self.slow = start, 1.0 / mean_length, 1.0

    def factor(self) -> float:
        if self.slow == 1.0 and self.rng.random() < self.start:
            self.slow = self.rng.uniform(1.2, 1.5)
        elif self.slow != 1.0 and self.rng.random() < self.end:
            self.slow = 1.0
        return self.slow


class HeavyTails(NoiseModel):
    """Rare large hiccups: 5% of measurements are slower by 20% plus an exponential tail (mean 50%)."""

    def factor(self) -> float:
        return 1.0 + (0.2 + self.rng.expovariate(2.0) if self.rng.random() < 0.05 else 0.0)


NOISE_MODELS: dict[str, Callable[[int], NoiseModel]] = {
    "iid": NoiseModel,
    "drift": Drift,
    "load steps": LoadSteps,
    "heavy tails": HeavyTails,
}


class Simulated(Evaluator):
    """Evaluates candidates whose params carry `effect`: true value = parent's x (1 - effect)."""

    def __init__(self, spec: Spec, noise: NoiseModel, baseline: float = 1.0) -> None:
        self.spec = spec
        self.noise = noise
        self.baseline_value = baseline
        self.truth: dict[int, float] = {}
        self.measurements = 0

    def _true(self, experiment: Experiment, params: dict[str, object] | None) -> float:
        if experiment.id not in self.truth:
            parent = self.truth.get(experiment.parent_id or -1, self.baseline_value)
            effect = float((params or {}).get("effect", 0.0))  # type: ignore[arg-type]
            better = 1.0 - effect if self.spec.study.direction == "minimize" else 1.0 + effect
            self.truth[experiment.id] = parent * better
        return self.truth[experiment.id]

    def _measure(self, true: float, repeats: int) -> Evaluation:
        runs = []
        for index in range(repeats):
            self.measurements += 1
            value = self.noise.measure(true)
            runs.append((Evaluation(metrics={self.spec.metric.name: value}, objective=value), index))
        return runs[0][0] if repeats == 1 else aggregate(runs, repeats)

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        baseline_repeats = max(self.spec.run.repeats, self.spec.noise.baseline_repeats)
        repeats = baseline_repeats if experiment.is_baseline else self.spec.run.repeats
        return self._measure(self._true(experiment, proposal.params), repeats)

    def remeasure(
        self,
        target: Experiment,
        *,
        for_experiment: Experiment,
        seed_offset: int,
        repeats: int | None = None,
        logs: Path | None = None,
    ) -> Evaluation:
        return self._measure(self._true(target, target.params), repeats or self.spec.run.repeats)


class Effects:
    """A proposer cycling through EFFECTS (fractions of improvement; 0: a no-op change)."""

    name = "effects"

    def __init__(self, effects: Sequence[float]) -> None:
        self._next = itertools.cycle(effects)
        self._count = itertools.count(1)  # n = 0 is the baseline

    def propose(self, context: Context) -> Proposal:
        effect = next(self._next)
        return Proposal(params={"effect": effect, "n": next(self._count)}, rationale=f"effect {effect:g}")

    def observe(self, experiment: Experiment) -> None:
        pass


def simulated_spec_data(noise: dict[str, object], candidates: int, repeats: int = 1) -> dict[str, object]:
    """A spec (as a dict) for a simulated study of CANDIDATES candidates under the keep rule NOISE."""
    return {
        "study": {"name": "simulated", "seed": 0},
        "run": {"command": "simulated", "repeats": repeats},
        "metric": {"name": "seconds"},
        "params": {"effect": {"low": 0.0, "high": 1.0, "default": 0.0}, "n": {"low": 0, "high": 10**9, "default": 0}},
        "budget": {"experiments": candidates + 1},
        "noise": noise,
    }
