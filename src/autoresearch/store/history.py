"""The finished experiments as the loop and its proposers see them, kept so that no step rescans them.

`History` is append-only. Each experiment enters once, in the order it finished, with its holdout
values already stripped (a proposer must never see them), and every figure a proposer, the judge or
the live panel asks for is kept up to date on the way in: counts by decision, cost, the incumbent,
the stagnation count, the ranking by objective, the failures, a params index and the objectives'
spread. Asking for any of them costs O(1), O(log n) or O(k) for the k items returned, never a scan
of the whole study, so the loop's work per experiment stays flat as a study grows to 10,000 and more.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import overload

from autoresearch.core.direction import sign
from autoresearch.core.experiment import FAILURES, INCUMBENT, Decision, Experiment, failed_baseline
from autoresearch.core.pareto import Front, hypervolume, reference_from_bounds
from autoresearch.core.space import params_key
from autoresearch.store.database import Store


@dataclasses.dataclass(frozen=True)
class FrontFigures:
    """A study's Pareto front now: its members (in the order they joined), the reference point and the
    hypervolume the front dominates up to it."""

    members: list[Experiment]
    reference: tuple[float, ...]
    hypervolume: float


class Tally:
    """Figures over a set of experiments, updated one experiment at a time (the live panel, `status`)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}  # decision (or "running") -> how many
        self.cost = 0.0
        self.baseline: Experiment | None = None
        self.best: Experiment | None = None  # the incumbent: the latest to become the global best
        self.since_improvement = 0  # finished experiments since the incumbent
        self.failed_baselines = 0  # retried on the next run, they use no budget (engine/budget.py)

    def add(self, experiment: Experiment) -> None:
        key = experiment.decision or "running"
        self.counts[key] = self.counts.get(key, 0) + 1
        self.cost += experiment.cost_usd or 0.0
        if experiment.status != "done":
            return
        if failed_baseline(experiment):
            self.failed_baselines += 1
            self.since_improvement += 1
        elif experiment.became_best:
            self.best = experiment
            self.since_improvement = 0
            if experiment.decision == Decision.BASELINE and self.baseline is None:
                self.baseline = experiment
        else:
            self.since_improvement += 1

    @classmethod
    def of_store(cls, store: Store) -> Tally:
        """The tally of every experiment in STORE, from aggregate queries rather than a pass over the rows."""
        tally = cls()
        tally.counts = store.counts_by_decision()
        tally.cost = store.total_cost()
        tally.baseline = store.baseline()
        tally.best = store.incumbent()
        tally.since_improvement = store.count_done_after(tally.best.id if tally.best else 0)
        tally.failed_baselines = store.count_failed_baselines()
        return tally

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - self.counts.get("running", 0)


class _ReadOnly(Sequence[Experiment]):
    """A list seen through Sequence: no append, no sort, no item assignment."""

    def __init__(self, items: list[Experiment]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> Experiment: ...

    @overload
    def __getitem__(self, index: slice) -> list[Experiment]: ...

    def __getitem__(self, index: int | slice) -> Experiment | list[Experiment]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._items)


# A candidate the holdout vetoed: its reason starts with this, and proposers are shown this alone, so
# that each holdout decision tells them one bit (kept or vetoed), never why (failed, or worse by how much).
HOLDOUT_VETO = "vetoed by the holdout"


def proposer_view(experiment: Experiment, holdout_metric: str | None) -> Experiment:
    """EXPERIMENT as any proposer may see it: the one place holdout data is taken out of what reaches
    a proposer (payloads, prompts, `history --json`, lessons). No holdout values; no metric named like
    the holdout's (a run re-printing an earlier holdout log); and in its reason (an error's log tail, a
    guard's output), each line naming the holdout's metric is cut where the name starts."""
    view = experiment if experiment.holdout is None else dataclasses.replace(experiment, holdout=None)
    if view.reason and view.reason.startswith(HOLDOUT_VETO):
        view = dataclasses.replace(view, reason=HOLDOUT_VETO)
    if holdout_metric is None:
        return view
    if holdout_metric in (view.metrics or {}):
        view = dataclasses.replace(view, metrics={k: v for k, v in view.metrics.items() if k != holdout_metric})
    if view.reason and holdout_metric.lower() in view.reason.lower():
        named = re.compile(re.escape(holdout_metric) + r".*", re.IGNORECASE)
        view = dataclasses.replace(view, reason=named.sub("[removed: it names the holdout metric]", view.reason))
    return view


class History(_ReadOnly):
    """Finished experiments, oldest first, holdout values stripped: a read-only view for proposers."""

    def __init__(
        self,
        direction: str,
        experiments: Iterable[Experiment] = (),
        holdout_metric: str | None = None,
        objectives: Mapping[str, str] | None = None,
    ) -> None:
        self.direction = direction
        # Several objectives (name -> direction): the Pareto front of the baseline and kept experiments,
        # grown as they are decided (the judge keeps a candidate only when it would join it).
        self.objectives = dict(objectives) if objectives else None
        self.front: Front[Experiment] | None = Front(tuple(self.objectives.values())) if self.objectives else None
        self._bounds: list[tuple[float, float]] = []  # each objective's (lowest, highest) measured value
        # A metric named like the holdout's in a run's own output is dropped too: a candidate re-printing
        # an earlier holdout log must not relay its values to proposers.
        self.holdout_metric = holdout_metric
        super().__init__([])
        self._by_id: dict[int, Experiment] = {}
        self._by_params: dict[str, Experiment] = {}  # params -> the first finished experiment with them
        self._ranked: list[Experiment] = []  # measured experiments, best first (ties: earlier first)
        self._ranked_keys: list[float] = []
        self._failures: list[Experiment] = []
        self._values = _Spread()
        self.tally = Tally()
        for experiment in experiments:
            self.add(experiment)

    def add(self, experiment: Experiment) -> Experiment:
        """Record a finished EXPERIMENT; returns the copy proposers see (no holdout values)."""
        view = proposer_view(experiment, self.holdout_metric)
        self._items.append(view)
        self._by_id[view.id] = view
        self.tally.add(view)
        if view.params is not None:
            self._by_params.setdefault(params_key(view.params), view)
        if view.decision in FAILURES:
            self._failures.append(view)
        point = view.point(self.objectives) if self.objectives else None
        if point is not None:
            if not self._bounds:
                self._bounds = [(v, v) for v in point]
            self._bounds = [(min(lo, v), max(hi, v)) for (lo, hi), v in zip(self._bounds, point, strict=True)]
            if self.front is not None and view.decision in INCUMBENT:
                self.front.add(view, point)
        if view.ok and view.objective is not None:
            key = self._rank_key(view.objective)
            at = bisect.bisect_right(self._ranked_keys, key)  # after equals: the order a stable sort gives
            self._ranked_keys.insert(at, key)
            self._ranked.insert(at, view)
            if math.isfinite(view.objective):
                self._values.add(view.objective)
        return view

    def _rank_key(self, objective: float) -> float:
        return math.inf if math.isnan(objective) else sign(self.direction) * objective

    # Indexing, slicing (a copy of the slice only) and iteration come from _ReadOnly.

    def __repr__(self) -> str:
        return f"History({len(self)} experiments)"

    # -- what proposers, the judge and the live panel ask ------------------------------------------

    def get(self, experiment_id: int) -> Experiment | None:
        return self._by_id.get(experiment_id)

    def with_params(self, params: dict[str, object]) -> Experiment | None:
        """The first finished experiment that ran exactly PARAMS, if any."""
        return self._by_params.get(params_key(params))

    def ranked(self) -> Sequence[Experiment]:
        """Measured experiments (baseline, kept, reverted), best first; slice it for the top k."""
        return _ReadOnly(self._ranked)

    def failures(self) -> Sequence[Experiment]:
        """Failed and rejected experiments, oldest first; slice it for the last k."""
        return _ReadOnly(self._failures)

    @property
    def counts(self) -> MappingProxyType[str, int]:
        return MappingProxyType(self.tally.counts)

    @property
    def baseline(self) -> Experiment | None:
        return self.tally.baseline

    def front_figures(self) -> FrontFigures | None:
        """Several objectives: the front's size and hypervolume, and the reference point it is measured
        from (reference_from_bounds: a tenth of each objective's range beyond its worst measured value)."""
        if self.front is None or not self._bounds:
            return None
        reference = reference_from_bounds(self._bounds, self.front.directions)
        volume = hypervolume(self.front.points, reference, self.front.directions)
        return FrontFigures(self.front.members, reference, volume)

    def objective_spread(self) -> tuple[int, float]:
        """How many finite measured objectives there are, and their sample standard deviation."""
        return self._values.n, self._values.stdev()


class _Spread:
    """Running mean and variance (Welford), so the spread of all objectives is O(1) to ask."""

    def __init__(self) -> None:
        self.n = 0
        self._mean = 0.0
        self._m2 = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        delta = value - self._mean
        self._mean += delta / self.n
        self._m2 += delta * (value - self._mean)

    def stdev(self) -> float:
        return math.sqrt(self._m2 / (self.n - 1)) if self.n >= 2 else 0.0
