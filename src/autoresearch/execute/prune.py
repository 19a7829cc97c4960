"""Early stopping of losing runs: the `[prune]` section, its rules, and a watcher of a growing log.

A curve is a metric printed many times (curves.py); its step k is the k-th value printed (1-based).
The rules are pure functions of the running experiment's curve so far and the curves of earlier
finished runs, as Optuna's pruners are:

- `median` (Optuna's MedianPruner): at step s past `warmup_steps`, the run's best value so far is
  worse than the median of the earlier runs' values at step s (at least `min_runs` of them reached s).
- `halving` (successive halving, as ASHA judges a rung): at the rungs min_steps * eta^k, the run's best
  value so far is not among the top 1/eta of the values at that rung (the earlier runs' and its own),
  judged once at least `min_runs` earlier runs reached the rung.

A run's best so far, not its last value, is compared, so one noisy epoch does not stop a good run;
a NaN value counts as the worst possible. A rule only ever stops a run: what a pruned run printed is
never a measurement (the loop records it as pruned, never kept).
"""

from __future__ import annotations

import math
import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.execute.metrics import parse_metric_lines

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import PruneSection, Spec

# The most steps of a run's curve kept with it (extra["prune_curve"]) for later runs to be compared with.
MAX_CURVE_STEPS = 10_000
# The most bytes of a log line the watcher holds while waiting for its end (a longer one is no metric line).
MAX_LINE_BYTES = 4096


@dataclass(frozen=True)
class Verdict:
    """Why a run was pruned: at STEP its best VALUE so far was worse than REFERENCE, from RUNS earlier runs."""

    rule: str
    metric: str
    step: int
    value: float
    reference: float
    runs: int
    eta: int = 0

    def reason(self) -> str:
        if self.rule == "median":
            return (
                f"pruned at step {self.step}: {self.metric} {_num(self.value)} worse than the median "
                f"{_num(self.reference)} of {self.runs} earlier runs"
            )
        return (
            f"pruned at step {self.step}: {self.metric} {_num(self.value)} not in the top 1/{self.eta} of "
            f"{self.runs + 1} runs at that rung (cutoff {_num(self.reference)})"
        )

    def as_record(self) -> dict[str, float | int | str]:
        """The values that decided, for the experiment's stored result."""
        return {
            "rule": self.rule,
            "metric": self.metric,
            "step": self.step,
            "value": self.value,
            "reference": self.reference,
            "runs": self.runs,
        }


def _worse(a: float, b: float, minimize: bool) -> bool:
    """Whether A is strictly worse than B; NaN is worse than any number."""
    if math.isnan(a):
        return not math.isnan(b)
    if math.isnan(b):
        return False
    return a > b if minimize else a < b


def _best(values: Sequence[float], minimize: bool) -> float:
    best = values[0]
    for value in values[1:]:
        if _worse(best, value, minimize):
            best = value
    return best


def _at_step(earlier: Sequence[Sequence[float]], step: int, minimize: bool) -> list[float]:
    """The best value so far at STEP of each earlier curve that reached it (NaN left out)."""
    found = [_best(curve[:step], minimize) for curve in earlier if len(curve) >= step]
    return [v for v in found if not math.isnan(v)]


def median_verdict(
    curve: Sequence[float],
    earlier: Sequence[Sequence[float]],
    *,
    metric: str,
    minimize: bool,
    warmup_steps: int = 0,
    min_runs: int = 3,
) -> Verdict | None:
    """The median rule at CURVE's last step, or None when the run goes on."""
    step = len(curve)
    if step == 0 or step <= warmup_steps:
        return None
    others = _at_step(earlier, step, minimize)
    if len(others) < min_runs:
        return None
    median = statistics.median(others)
    value = _best(curve, minimize)
    if _worse(value, median, minimize):
        return Verdict("median", metric, step, value, median, len(others))
    return None


def rungs(min_steps: int, eta: int, up_to: int) -> list[int]:
    """The halving rungs min_steps * eta^k not beyond UP_TO."""
    found, rung = [], min_steps
    while rung <= up_to:
        found.append(rung)
        rung *= eta
    return found


def halving_verdict(
    curve: Sequence[float],
    earlier: Sequence[Sequence[float]],
    *,
    metric: str,
    minimize: bool,
    min_steps: int = 1,
    eta: int = 3,
    min_runs: int = 3,
) -> Verdict | None:
    """Successive halving at CURVE's last step (judged only on a rung), or None when the run goes on."""
    step = len(curve)
    if step == 0 or step not in rungs(min_steps, eta, step):
        return None
    others = _at_step(earlier, step, minimize)
    if len(others) < min_runs:
        return None
    value = _best(curve, minimize)
    pool = sorted(others if math.isnan(value) else [*others, value], reverse=not minimize)  # best first
    keep = max(1, (len(others) + 1) // eta)  # how many of the rung's runs go on
    cutoff = pool[min(keep, len(pool)) - 1]
    if _worse(value, cutoff, minimize):
        return Verdict("halving", metric, step, value, cutoff, len(others), eta)
    return None


class Pruner:
    """A `[prune]` rule bound to a study's direction and the curves of its earlier finished runs."""

    def __init__(
        self, section: PruneSection, metric: str, earlier: Sequence[Sequence[float]], *, minimize: bool
    ) -> None:
        self.section = section
        self.metric = metric
        self.earlier = earlier
        self.minimize = minimize

    def judge(self, curve: Sequence[float]) -> Verdict | None:
        """Whether the run with CURVE so far is pruned at its last step."""
        s = self.section
        if s.rule == "median":
            return median_verdict(
                curve,
                self.earlier,
                metric=self.metric,
                minimize=self.minimize,
                warmup_steps=s.warmup_steps,
                min_runs=s.min_runs,
            )
        return halving_verdict(
            curve,
            self.earlier,
            metric=self.metric,
            minimize=self.minimize,
            min_steps=s.min_steps,
            eta=s.eta,
            min_runs=s.min_runs,
        )


class LogWatcher:
    """Reads a running experiment's growing stdout log and judges its curve after each new value.

    Call `poll()` every few tenths of a second from the thread that waits for the run; it reads only
    the bytes written since the last call and only whole lines (a line still being written waits).
    """

    def __init__(self, path: Path, pruner: Pruner) -> None:
        self.path = path
        self.pruner = pruner
        self.curve: list[float] = []
        self.verdict: Verdict | None = None  # the first verdict a poll found (the run is then stopped)
        self._offset = 0
        self._partial = b""

    def stops(self) -> bool:
        """For run_command's WATCH: whether the run is to be stopped now."""
        self.verdict = self.verdict or self.poll()
        return self.verdict is not None

    def poll(self) -> Verdict | None:
        """The verdict that stops the run, if the lines written since the last poll bring one."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None  # not created yet (or not a plain file the run writes): nothing to judge
        try:
            os.lseek(fd, self._offset, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            self._partial = b"\x00"  # too long to be a metric line: its rest is ignored up to the next newline
        for line in lines:
            value = parse_metric_lines(line.decode("utf-8", "replace")).get(self.pruner.metric)
            if value is None:
                continue
            self.curve.append(value)
            verdict = self.pruner.judge(self.curve)
            if verdict is not None:
                return verdict
        return None


class EarlierCurves:
    """The curves of a study's finished, measured runs (baseline, kept, reverted: as Optuna compares with
    complete trials), read from the loop's growing history: each experiment once, when it is new."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read = 0
        self._curves: list[list[float]] = []

    def of(self, history: Sequence[Experiment]) -> list[list[float]]:
        with self._lock:
            new = history[self._read :]
            self._read += len(new)
            for experiment in new:
                curve = experiment.extra.get("prune_curve")
                if experiment.ok and isinstance(curve, list):
                    self._curves.append(curve)
            return list(self._curves)  # this run's own list: later runs are not compared with midway


def study_pruner(spec: Spec, earlier: list[list[float]]) -> Pruner | None:
    """The study's pruner comparing with EARLIER curves, or None without [prune]."""
    if spec.prune is None:
        return None
    metric = spec.prune.metric_name(spec.metric.name)
    return Pruner(spec.prune, metric, earlier, minimize=spec.study.direction == "minimize")


def recorded_curve(output: str, metric: str) -> list[float]:
    """The values of METRIC a finished run printed, in order (at most MAX_CURVE_STEPS), to store with it."""
    printed: dict[str, list[float]] = {}
    parse_metric_lines(output, printed)
    return printed.get(metric, [])[:MAX_CURVE_STEPS]


def _num(value: float) -> str:
    return f"{value:.6g}"
