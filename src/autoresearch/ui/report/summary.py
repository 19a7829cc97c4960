"""What a study found, as numbers: the summary every report view (HTML, Markdown, dashboard) shows."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoresearch.core.direction import better, sign
from autoresearch.core.experiment import FAILURES, JUDGED, Decision, Experiment, baseline_of, incumbent_of
from autoresearch.core.space import ParamSpec
from autoresearch.engine.judge import holdout_budget_text, strict_kept
from autoresearch.execute.feedback import summarise_curve
from autoresearch.spec import Spec
from autoresearch.ui.report.importance import METHOD as IMPORTANCE_METHOD
from autoresearch.ui.report.importance import rank_anova_importances

if TYPE_CHECKING:
    from autoresearch.ui.report.pareto import FrontReport


@dataclass
class StrategyStats:
    strategy: str
    total: int
    kept: int
    reverted: int
    failed: int
    rejected: int

    @property
    def success_rate(self) -> float:
        return self.kept / self.total if self.total else 0.0


@dataclass
class FailureReason:
    reason: str  # normalised: numbers, absolute paths and hashes folded so that variants group together
    count: int
    decisions: dict[str, int]
    example_ids: list[int]
    example: str = ""  # the first one's reason as recorded, hints (the closest lines...) included


MAX_ROWS = 1000  # the per-experiment table's most recent rows; `autoresearch export` has them all
MAX_REASON_CHARS = 600


@dataclass
class ExperimentRow:
    """One line of the per-experiment table: what was tried and why it was kept, reverted or failed."""

    id: int
    parent_id: int | None
    decision: str
    objective: float | None
    strategy: str | None
    rationale: str
    reason: str  # the decision's why: the noise verdict of a keep or revert, the cause of a failure


@dataclass
class KeptStep:
    id: int
    decision: str  # baseline or kept
    objective: float
    delta: float | None  # objective minus the previous step's objective (None for the first)
    rationale: str | None
    strategy: str | None
    diff: str | None
    params: dict[str, Any] | None
    holdout: float | None
    curves: list[str] = field(default_factory=list)  # one line per metric curve, with a sparkline
    feedback: str | None = None  # what its run (or the scorer) wrote for proposers


@dataclass
class Head:
    """A lineage head the search policy named (a tree's draft, an island): its best experiment."""

    name: str
    id: int
    objective: float | None


def holdout_label(metric: str) -> str:
    """'holdout acc' for a metric `acc`, but `holdout_sharpe` as it is: the word once, not twice."""
    return metric if metric.lower().startswith("holdout") else f"holdout {metric}"


@dataclass
class HoldoutPoint:
    id: int
    objective: float
    holdout: float


@dataclass
class HoldoutSummary:
    metric: str
    points: list[HoldoutPoint]
    diverged: bool  # the objective improved since the holdout's best step while the holdout got worse
    diverging_steps: list[int]  # ids of steps where the objective improved and the holdout worsened
    peak_id: int | None = None  # the kept step with the best holdout

    @property
    def message(self) -> str:
        if not self.points:
            return "no holdout results"
        if self.diverged:
            peak = next(p for p in self.points if p.id == self.peak_id)
            last = self.points[-1]
            return (
                f"DIVERGENCE: since #{peak.id} the search objective improved ({peak.objective:.6g} -> "
                f"{last.objective:.6g}) but {holdout_label(self.metric)} got worse ({peak.holdout:.6g} -> "
                f"{last.holdout:.6g}); the search may be overfitting its metric"
            )
        return f"{holdout_label(self.metric)} followed the search objective ({len(self.points)} points)"


@dataclass
class Summary:
    name: str
    direction: str
    mode: str
    total: int
    running: int
    counts: dict[str, int]
    baseline: float | None
    baseline_id: int | None
    best: float | None
    best_id: int | None
    improvement_abs: float | None  # positive means better, whatever the direction
    improvement_pct: float | None
    keep_rate: float | None  # kept / judged candidates (baseline and running excluded)
    cost_usd: float
    tokens_in: int
    tokens_out: int
    compute_s: float  # sum of experiment durations
    wall_s: float  # first start to last finish
    experiments_per_hour: float | None
    strategies: list[StrategyStats]
    failure_reasons: list[FailureReason]
    chain: list[KeptStep]
    param_importances: dict[str, float] | None = None
    importance_method: str | None = None
    importance_error: str | None = None
    slices: dict[str, list[tuple[Any, float, int]]] = field(default_factory=dict)  # param -> (value, obj, id)
    holdout: HoldoutSummary | None = None
    strict_kept: int | None = None  # how many the strict rule would have kept (None: not recorded)
    rows: list[ExperimentRow] = field(default_factory=list)  # the last MAX_ROWS experiments
    confirmed: str | None = None  # best vs baseline re-measured on interleaved pairs (autoresearch confirm)
    warnings: list[str] = field(default_factory=list)  # e.g. the study ran without a sandbox
    policy: str = "greedy"  # the search policy ([search] policy)
    heads: list[Head] = field(default_factory=list)  # its lineage heads, when it names any
    holdout_budget: str = ""  # how much of [holdout] budget the study spent (judge.holdout_budget_text)
    front: FrontReport | None = None  # several objectives: the Pareto front (pareto.py)

    @property
    def strict_line(self) -> str | None:
        """'kept K; the strict rule would have kept S' when the study recorded the comparison."""
        if self.strict_kept is None:
            return None
        return f"kept {self.counts.get(Decision.KEPT, 0)}; the strict rule would have kept {self.strict_kept}"


# The figures below are shared by the report (summarize) and the live dashboard, which computes them
# from its own light rows: one definition of each, so the two views cannot disagree.


def running_best(incumbents: Sequence[Experiment], last_id: int, direction: str) -> tuple[list[int], list[float]]:
    """The running best as step points through the incumbents, extended to experiment LAST_ID."""
    points = []
    for e in incumbents:
        assert e.objective is not None
        points.append((e.id, e.objective))
    return running_best_points(points, last_id, direction)


def running_best_points(
    points: Iterable[tuple[int, float]], last_id: int, direction: str
) -> tuple[list[int], list[float]]:
    """The running best through (id, objective) POINTS of the incumbents, extended to experiment LAST_ID."""
    xs: list[int] = []
    ys: list[float] = []
    best: float | None = None
    for experiment_id, objective in points:
        if best is None or better(objective, best, direction):
            best = objective
        xs.append(experiment_id)
        ys.append(best)
    if ys:
        xs.append(last_id)
        ys.append(ys[-1])
    return xs, ys


def improvement(baseline: float | None, best: float | None, direction: str) -> tuple[float | None, float | None]:
    """BEST's improvement over BASELINE (positive = better), absolute and in percent (None at a zero baseline)."""
    if baseline is None or best is None:
        return None, None
    absolute = sign(direction) * (baseline - best)
    return absolute, (100.0 * absolute / abs(baseline) if baseline != 0 else None)


def keep_rate(counts: Mapping[str, int]) -> float | None:
    """Kept / judged candidates (the baseline and running ones excluded)."""
    judged = sum(counts.get(d, 0) for d in JUDGED)
    return counts.get(Decision.KEPT, 0) / judged if judged else None


def normalise_reason(reason: str | None) -> str:
    """Fold the variable parts of a failure reason so that 'timeout after 301s' and '...299s' group."""
    if not reason:
        return "(no reason recorded)"
    text = reason.strip().splitlines()[0] if reason.strip() else reason
    # Absolute paths only (temporary folders, worktrees): `src/hot.py` is the same file in every variant.
    text = re.sub(r"(?<![\w.])/(?:[\w.\-]+/)*[\w.\-]*", "<path>", text)
    text = re.sub(r"0x[0-9a-fA-F]+", "<hex>", text)
    text = re.sub(r"\b[0-9a-f]{7,40}\b", "<sha>", text)
    text = re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "<n>", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:160]


def summarize(
    experiments: Sequence[Experiment],
    direction: str,
    *,
    name: str = "",
    mode: str = "params",
    params: dict[str, ParamSpec] | None = None,
    holdout_metric: str | None = None,
) -> Summary:
    """The study's summary from its experiments (in id order, as `Store.experiments()` returns them)."""
    experiments = sorted(experiments, key=lambda e: e.id)
    counts = Counter(e.decision or "running" for e in experiments)
    running = counts.get("running", 0)
    baseline = baseline_of(e for e in experiments if e.objective is not None)
    # The global bests in turn (a candidate kept against an island's incumbent may not be one).
    incumbents = [e for e in experiments if e.became_best and e.objective is not None]
    # The incumbent: what `autoresearch best` and the study branch show (see Study.best).
    # Decided last, not best-scoring: under the paired rule a kept candidate's own first run may score
    # below its predecessor's.
    best_exp = incumbent_of(incumbents)
    improvement_abs, improvement_pct = improvement(
        baseline.objective if baseline else None, best_exp.objective if best_exp else None, direction
    )
    starts = [e.started_at for e in experiments if e.started_at is not None]
    ends = [e.finished_at for e in experiments if e.finished_at is not None]
    wall = (max(ends) - min(starts)) if starts and ends else 0.0
    finished = sum(1 for e in experiments if e.status == "done")
    summary = Summary(
        name=name,
        direction=direction,
        mode=mode,
        total=len(experiments),
        running=running,
        counts={
            d: counts.get(d, 0)
            for d in (
                Decision.BASELINE,
                Decision.KEPT,
                Decision.REVERTED,
                Decision.FAILED,
                Decision.REJECTED,
                Decision.PRUNED,
                "running",
            )
        },
        baseline=baseline.objective if baseline else None,
        baseline_id=baseline.id if baseline else None,
        best=best_exp.objective if best_exp else None,
        best_id=best_exp.id if best_exp else None,
        improvement_abs=improvement_abs,
        improvement_pct=improvement_pct,
        keep_rate=keep_rate(counts),
        cost_usd=sum(e.cost_usd or 0.0 for e in experiments),
        tokens_in=sum(e.tokens_in or 0 for e in experiments),
        tokens_out=sum(e.tokens_out or 0 for e in experiments),
        compute_s=sum(e.duration or 0.0 for e in experiments),
        wall_s=max(wall, 0.0),
        experiments_per_hour=finished / (wall / 3600.0) if wall > 0 else None,
        strategies=_strategies(experiments),
        failure_reasons=_failure_reasons(experiments),
        chain=[],
        strict_kept=strict_kept(experiments),
        rows=[
            ExperimentRow(
                e.id,
                e.parent_id,
                e.decision or "running",
                e.objective,
                e.strategy,
                _clip(" ".join((e.rationale or "").split()), 200),
                _clip(e.reason or "", MAX_REASON_CHARS),
            )
            for e in experiments[-MAX_ROWS:]
        ],
    )
    metric = holdout_metric or _holdout_metric(experiments)
    summary.chain = _chain(incumbents, direction, metric)
    if metric is not None:
        summary.holdout = _holdout(summary.chain, direction, metric)
    if mode == "params":
        summary.slices = _slices(experiments)
        if params:
            _importances(summary, experiments, params, direction)
    return summary


def summarize_spec(spec: Spec, experiments: Sequence[Experiment]) -> Summary:
    summary = summarize(
        experiments,
        spec.study.direction,
        name=spec.name,
        mode=spec.mode,
        params=spec.params,
        holdout_metric=spec.holdout.metric if spec.holdout else None,
    )
    if spec.holdout is not None:
        spent = sum(1 for e in experiments if e.holdout is not None and e.decision != Decision.BASELINE)
        summary.holdout_budget = holdout_budget_text(spec.holdout.budget, spent)
    return summary


def _strategies(experiments: Sequence[Experiment]) -> list[StrategyStats]:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for e in experiments:
        if e.decision in (None, Decision.BASELINE):
            continue
        by[e.strategy or "(none)"][e.decision] += 1
    stats = [
        StrategyStats(
            s, sum(c.values()), c[Decision.KEPT], c[Decision.REVERTED], c[Decision.FAILED], c[Decision.REJECTED]
        )
        for s, c in by.items()
    ]
    return sorted(stats, key=lambda s: (-s.success_rate, -s.total, s.strategy))


def _clip(text: str, limit: int) -> str:
    """TEXT cut at a word near LIMIT characters, never mid-word."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return (cut[:space] if space > limit // 2 else cut).rstrip() + " …"


def _failure_reasons(experiments: Sequence[Experiment], top: int = 10) -> list[FailureReason]:
    groups: dict[str, FailureReason] = {}
    for e in experiments:
        if e.decision not in FAILURES:
            continue
        key = normalise_reason(e.reason)
        group = groups.setdefault(key, FailureReason(key, 0, {}, [], _clip(e.reason or "", MAX_REASON_CHARS)))
        group.count += 1
        group.decisions[e.decision] = group.decisions.get(e.decision, 0) + 1
        if len(group.example_ids) < 5:
            group.example_ids.append(e.id)
    return sorted(groups.values(), key=lambda g: (-g.count, g.reason))[:top]


def _holdout_metric(experiments: Sequence[Experiment]) -> str | None:
    """The holdout metric to compare: the most common numeric key among holdout results."""
    keys: Counter[str] = Counter()
    for e in experiments:
        for k, v in (e.holdout or {}).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                keys[k] += 1
    if not keys:
        return None
    if "objective" in keys:
        return "objective"
    return keys.most_common(1)[0][0]


def _holdout_value(e: Experiment, metric: str | None) -> float | None:
    if metric is None or not e.holdout:
        return None
    value = e.holdout.get(metric)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _chain(incumbents: Sequence[Experiment], direction: str, metric: str | None) -> list[KeptStep]:
    chain: list[KeptStep] = []
    previous: float | None = None
    for e in incumbents:
        assert e.objective is not None
        chain.append(
            KeptStep(
                id=e.id,
                decision=e.decision or "",
                objective=e.objective,
                delta=None if previous is None else e.objective - previous,
                rationale=e.rationale,
                strategy=e.strategy,
                diff=e.diff,
                params=e.params,
                holdout=_holdout_value(e, metric),
                curves=[summarise_curve(name, c) for name, c in ((e.extra or {}).get("series") or {}).items()],
                feedback=(e.extra or {}).get("feedback"),
            )
        )
        previous = e.objective
    return chain


def _holdout(chain: Sequence[KeptStep], direction: str, metric: str) -> HoldoutSummary:
    points = [HoldoutPoint(s.id, s.objective, s.holdout) for s in chain if s.holdout is not None]
    diverging = [
        b.id
        for a, b in itertools.pairwise(points)
        if better(b.objective, a.objective, direction) and better(a.holdout, b.holdout, direction)
    ]
    # Diverged: since the step where the holdout was best, the objective kept improving while the
    # holdout got worse -- the search is fitting its own metric, not the task (overall gains may hide it).
    peak = None
    for p in points:
        if peak is None or better(p.holdout, peak.holdout, direction):
            peak = p
    diverged = (
        peak is not None
        and peak is not points[-1]
        and better(points[-1].objective, peak.objective, direction)
        and better(peak.holdout, points[-1].holdout, direction)
    )
    return HoldoutSummary(metric, points, diverged, diverging, peak.id if peak else None)


def _slices(experiments: Sequence[Experiment]) -> dict[str, list[tuple[Any, float, int]]]:
    slices: dict[str, list[tuple[Any, float, int]]] = defaultdict(list)
    for e in experiments:
        if e.ok and e.objective is not None and e.params:
            for k, v in e.params.items():
                slices[k].append((v, e.objective, e.id))
    return dict(slices)


def _importances(
    summary: Summary, experiments: Sequence[Experiment], params: dict[str, ParamSpec], direction: str
) -> None:
    """Parameter importances (report/importance.py: no scikit-learn, no Optuna study) over the experiments.

    Any failure (too few trials, no parameter that explains anything) leaves
    `param_importances` None and says why: a report must never fail because of this section.
    """
    try:
        # The samplers' own search space; the module loads Optuna, only when a report is written.
        from autoresearch.propose.samplers import distribution

        distributions = {name: distribution(p) for name, p in params.items()}
        eligible: list[tuple[dict[str, Any], float]] = []
        for e in experiments:
            if not (e.ok and e.objective is not None and e.params) or not math.isfinite(e.objective):
                continue
            values = {k: v for k, v in e.params.items() if k in distributions}
            if not all(_in_space(distributions[k], v) for k, v in values.items()):
                continue  # outside the declared space (e.g. the spec changed since): skip, don't fail
            eligible.append((values, e.objective))
        if len(eligible) < 3:
            summary.importance_error = f"needs at least 3 finished trials in the search space, got {len(eligible)}"
            return
        categorical = {name for name, p in params.items() if p.type == "categorical"}
        try:
            summary.param_importances = rank_anova_importances(eligible, categorical)
        except ValueError as exc:
            summary.importance_error = str(exc)
            return
        summary.importance_method = IMPORTANCE_METHOD
    except Exception as exc:
        summary.importance_error = f"{type(exc).__name__}: {exc}"


def _in_space(distribution: Any, value: Any) -> bool:
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False
