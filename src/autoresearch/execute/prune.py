"""Early stopping of losing runs: the `[prune]` section, its rules, and a watcher of a growing log.

A curve is a metric printed many times (curves.py); its step k is the k-th value printed (1-based).
The rules are pure functions of the running experiment's curve so far and the curves of earlier
finished runs, as Optuna's pruners are:

- `median` (Optuna's MedianPruner): at step s past `warmup_steps`, the run's best value so far is
  worse than the median of the earlier runs' values at step s (at least `min_runs` of them reached s).
- `halving` (successive halving, as ASHA judges a rung): at the rungs min_steps * eta^k, the run's best
  value so far is not among the top 1/eta of the values at that rung (the earlier runs' and its own),
  judged once at least `min_runs` earlier runs reached the rung. As in ASHA, the runs at a rung include
  those stopped there or later (a pruned run's curve up to its stop), not only the ones that finished:
  comparing with finished runs alone would keep the top 1/eta of the survivors, ever harsher.
- `incumbent` ("cannot beat the incumbent's curve by the end"): at step s past `warmup_steps`, the run's
  best value so far is worse than the most the incumbent's curve allows, `incumbent_bar`: the
  incumbent's final value (on its run with the same seed as this one's), plus `factor` times the most
  the incumbent's own curves still improved after step s (over its runs: repeats and paired
  re-measurements), plus the noise of a difference of two runs' values. A run would have to improve
  more than `factor` times as much as the incumbent did from step s on to end better than it.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.core.experiment import Decision, Experiment, decided_order
from autoresearch.execute.metrics import parse_metric_lines

if TYPE_CHECKING:
    from autoresearch.spec import PruneSection, Spec

# The most steps of a run's curve kept with it (extra["prune_curve"]) for later runs to be compared with.
MAX_CURVE_STEPS = 10_000
# The most curves of one experiment's runs (its repeats, paired re-measurements) the incumbent rule reads.
MAX_INCUMBENT_CURVES = 32
# The incumbent rule's noise margin, in standard deviations of the difference of two runs' values at a step.
NOISE_SIGMAS = 3.0
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
    incumbent: int | None = None  # the incumbent rule: whose curve, and its final value
    final: float = math.nan

    def reason(self) -> str:
        if self.rule == "incumbent":
            return (
                f"pruned at step {self.step}: {self.metric} {_num(self.value)} cannot beat #{self.incumbent}'s "
                f"{_num(self.final)} by the end (worse than {_num(self.reference)}, the most #{self.incumbent}'s "
                f"{self.runs} curve(s) allow at that step)"
            )
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
        record: dict[str, float | int | str] = {
            "rule": self.rule,
            "metric": self.metric,
            "step": self.step,
            "value": self.value,
            "reference": self.reference,
            "runs": self.runs,
        }
        if self.incumbent is not None:
            record |= {"incumbent": self.incumbent, "incumbent_final": self.final}
        return record


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


def step_noise(curve: Sequence[float]) -> float:
    """The standard deviation of CURVE's noise per step, from its second differences (robustly: their
    median). Noise independent per step gives differences of variance 6 sigma^2; the curve's own bend
    only adds to them, so the estimate errs large (towards pruning less)."""
    finite = [v for v in curve if math.isfinite(v)]
    bends = [abs(finite[i + 1] - 2 * finite[i] + finite[i - 1]) for i in range(1, len(finite) - 1)]
    return statistics.median(bends) / (0.6745 * math.sqrt(6)) if bends else 0.0


def incumbent_bar(
    curves: Sequence[Sequence[float]], step: int, *, minimize: bool, factor: float
) -> tuple[float, float] | None:
    """(the bar, the incumbent's final value) at STEP for the incumbent rule, or None (no curve reaches STEP).

    CURVES are the incumbent's, its run with the same seed as the judged run's first. The bar is that
    run's final value, plus FACTOR times the most any of its curves improved after STEP (its best so
    far at STEP to its last value), plus NOISE_SIGMAS standard deviations of the difference of two runs'
    values: the noise per step (the spread of the curves' final values when there are several, else the
    curve's jitter), times sqrt(2).
    """
    usable = [c for c in curves if len(c) >= step and math.isfinite(c[-1])]
    if not usable or len(curves[0]) < step or not math.isfinite(curves[0][-1]):
        return None
    final = curves[0][-1]
    direction = 1.0 if minimize else -1.0
    reach = max(max(0.0, direction * (_best(c[:step], minimize) - c[-1])) for c in usable)
    finals = [c[-1] for c in usable]
    noise = max(statistics.stdev(finals) if len(finals) > 1 else 0.0, step_noise(curves[0]))
    return final + direction * (factor * reach + NOISE_SIGMAS * math.sqrt(2) * noise), final


def incumbent_verdict(
    curve: Sequence[float],
    incumbent: Sequence[Sequence[float]],
    *,
    metric: str,
    minimize: bool,
    incumbent_id: int,
    factor: float = 1.5,
    warmup_steps: int = 0,
) -> Verdict | None:
    """The incumbent rule at CURVE's last step, or None when the run goes on (or there is no incumbent curve)."""
    step = len(curve)
    if step == 0 or step <= warmup_steps or not incumbent:
        return None
    bar = incumbent_bar(incumbent, step, minimize=minimize, factor=factor)
    if bar is None:
        return None
    value = _best(curve, minimize)
    if _worse(value, bar[0], minimize):
        return Verdict("incumbent", metric, step, value, bar[0], len(incumbent), incumbent=incumbent_id, final=bar[1])
    return None


@dataclass(frozen=True)
class Compared:
    """What a running experiment's curve is compared with: the study's curves when it started."""

    finished: list[list[float]] = field(default_factory=list)  # measured runs' (median, halving)
    stopped: list[list[float]] = field(default_factory=list)  # pruned runs', up to their stop (halving)
    incumbent_id: int | None = None
    incumbent: list[list[float]] = field(default_factory=list)  # its same-seed run's first, then its others


class Pruner:
    """A `[prune]` rule bound to a study's direction and the curves of its earlier finished runs."""

    def __init__(
        self, section: PruneSection, metric: str, compared: Compared | list[list[float]], *, minimize: bool
    ) -> None:
        self.section = section
        self.metric = metric
        self.compared = compared if isinstance(compared, Compared) else Compared(finished=compared)
        self.earlier = self.compared.finished
        self.minimize = minimize

    def idle(self) -> str | None:
        """Why this rule can judge nothing in this run (the incumbent rule without an incumbent curve), or None."""
        if self.section.rule != "incumbent" or self.compared.incumbent:
            return None
        if self.compared.incumbent_id is None:
            return 'not judged by [prune] rule = "incumbent": the study has no incumbent yet'
        return (
            f'not judged by [prune] rule = "incumbent": the incumbent #{self.compared.incumbent_id} has no '
            f"recorded {self.metric} curve (measured before [prune] was set, or its log was cut); runs are "
            "judged from the next kept one on"
        )

    def judge(self, curve: Sequence[float]) -> Verdict | None:
        """Whether the run with CURVE so far is pruned at its last step."""
        s = self.section
        if s.rule == "incumbent":
            return incumbent_verdict(
                curve,
                self.compared.incumbent,
                metric=self.metric,
                minimize=self.minimize,
                incumbent_id=self.compared.incumbent_id or 0,
                factor=s.factor,
                warmup_steps=s.warmup_steps,
            )
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
            [*self.earlier, *self.compared.stopped],
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
    """The curves a running experiment is compared with, read from the loop's growing history (each
    experiment once, when it is new): the finished, measured runs' (baseline, kept, reverted: as Optuna
    compares with complete trials), the pruned runs' up to their stop, and each experiment's own curves
    (its first run's, its repeats', and those of its paired re-measurements) for the incumbent rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read = 0
        self._finished: list[list[float]] = []
        self._stopped: list[list[float]] = []
        self._own: dict[int, list[list[float]]] = {}  # experiment id -> its curves, its first run's first
        self._incumbent: Experiment | None = None

    def of(self, history: Sequence[Experiment]) -> Compared:
        with self._lock:
            new = history[self._read :]
            self._read += len(new)
            for experiment in new:
                self._add(experiment)
            incumbent = self._incumbent
            return Compared(  # this run's own lists: later runs are not compared with midway
                finished=list(self._finished),
                stopped=list(self._stopped),
                incumbent_id=incumbent.id if incumbent is not None else None,
                incumbent=list(self._own.get(incumbent.id, [])) if incumbent is not None else [],
            )

    def _add(self, experiment: Experiment) -> None:
        curve = experiment.extra.get("prune_curve")
        if isinstance(curve, list):
            if experiment.ok:
                self._finished.append(curve)
                repeats = experiment.extra.get("prune_curves")
                self._extend(experiment.id, repeats if isinstance(repeats, list) and repeats else [curve])
            elif experiment.decision == Decision.PRUNED:
                step = (experiment.extra.get("pruned") or {}).get("step")
                if isinstance(step, int):  # what it printed after the verdict, before it stopped, is left out
                    self._stopped.append(curve[:step])
        pairs = experiment.extra.get("paired")
        if isinstance(pairs, dict):  # the re-measured runs of both sides: the incumbent's spread of curves
            for side in ("a", "b"):
                curves, owner = pairs.get(f"{side}_curves"), pairs.get(f"{side}_id")
                if isinstance(curves, list) and isinstance(owner, int) and owner in self._own:
                    self._extend(owner, curves)
        if experiment.became_best and (
            self._incumbent is None
            or decided_order(experiment.finished_at, experiment.id)
            > decided_order(self._incumbent.finished_at, self._incumbent.id)
        ):
            self._incumbent = experiment

    def _extend(self, owner: int, curves: list[list[float]]) -> None:
        held = self._own.setdefault(owner, [])
        held.extend(c for c in curves[: MAX_INCUMBENT_CURVES - len(held)] if isinstance(c, list) and c)


def study_pruner(spec: Spec, compared: Compared | list[list[float]]) -> Pruner | None:
    """The study's pruner comparing with COMPARED (the study's curves), or None without [prune]."""
    if spec.prune is None:
        return None
    metric = spec.prune.metric_name(spec.metric.name)
    return Pruner(spec.prune, metric, compared, minimize=spec.study.direction == "minimize")


def recorded_curve(output: str, metric: str) -> list[float]:
    """The values of METRIC a finished run printed, in order (at most MAX_CURVE_STEPS), to store with it."""
    printed: dict[str, list[float]] = {}
    parse_metric_lines(output, printed)
    return printed.get(metric, [])[:MAX_CURVE_STEPS]


def _num(value: float) -> str:
    return f"{value:.6g}"
