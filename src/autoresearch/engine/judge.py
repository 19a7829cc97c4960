"""Judging a measured candidate: is it better than the incumbent, and by enough to keep it?

`judge` is the bare comparison (the `strict` rule). `Referee` applies the spec's rules on top: the
noise rule (`min_delta`; `significant`: factor x combined standard error, or a one-sided Welch test;
`paired`: candidate and incumbent run alternately, decided on their differences, see paired.py),
integrity flags, a re-run of suspiciously large gains, the holdout, and re-measuring the new and
the previous best on fresh seeds so that a lucky measurement (regression to the mean) is caught.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autoresearch.core.direction import improvement
from autoresearch.core.experiment import Decision, Experiment
from autoresearch.core.pareto import Front
from autoresearch.engine import paired
from autoresearch.spec import NoiseSection, Spec
from autoresearch.store.history import HOLDOUT_VETO

if TYPE_CHECKING:
    from autoresearch.core.evaluation import Evaluation
    from autoresearch.execute.evaluate import Evaluator
    from autoresearch.store.history import History


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str


def judge(candidate: float, best: Experiment | None, direction: str) -> Verdict:
    """Keep CANDIDATE only if it beats the current best (the `strict` rule)."""
    if best is None or best.objective is None:
        return Verdict(True, "first measured candidate")
    delta = improvement(candidate, best.objective, direction)
    if delta > 0:
        return Verdict(True, f"better than #{best.id} by {delta:.6g}")
    if delta == 0:
        return Verdict(False, f"equal to #{best.id}")
    return Verdict(False, f"worse than #{best.id} by {-delta:.6g}")


def front_verdict(point: tuple[float, ...], front: Front[Experiment], names: Sequence[str]) -> Verdict:
    """Several objectives: keep the candidate at POINT when no member of FRONT dominates it or equals it on
    every objective (a tie keeps the member that was there first); say which members it pushes off."""
    blocker = front.blocker(point)
    if blocker is not None:
        word = "equal to" if blocker.point(names) == point else "dominated by"
        return Verdict(False, f"{word} #{blocker.id} on the Pareto front ({fmt_point(blocker.point(names), names)})")
    pushed = front.dominated_by(point)
    if pushed:
        return Verdict(True, "joins the Pareto front, pushing off " + ", ".join(f"#{e.id}" for e in pushed))
    return Verdict(True, f"joins the Pareto front beside {len(front)} member(s): a trade-off none of them dominates")


def fmt_point(point: Sequence[float] | None, names: Sequence[str]) -> str:
    """`time_ms 3.1, accuracy 0.92`: one value per objective."""
    if point is None:
        return "not measured"
    return ", ".join(f"{name} {value:.6g}" for name, value in zip(names, point, strict=True))


def objective_values(metrics: dict[str, float], names: Sequence[str]) -> dict[str, float] | str:
    """Each objective's value from a run's METRICS, or why they are not all there (a failed measurement)."""
    missing = [name for name in names if not isinstance(metrics.get(name), int | float)]
    if missing:
        found = ", ".join(sorted(metrics)) or "none"
        return f"objective {missing[0]} not found in the output (found: {found}); print each objective as `name: value`"
    bad = next((name for name in names if not math.isfinite(metrics[name])), None)
    if bad is not None:
        return f"objective {bad} is {metrics[bad]}"
    return {name: float(metrics[name]) for name in names}


def strict_kept(experiments: Iterable[Experiment]) -> int | None:
    """Candidates the strict rule (any improvement) would have kept, from extra["strict_keep"]."""
    recorded = [e.extra["strict_keep"] for e in experiments if "strict_keep" in (e.extra or {})]
    return sum(1 for keep in recorded if keep) if recorded else None


# -- noise-aware judging -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The measurements behind one objective: their mean, count and per-measurement spread."""

    mean: float
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation of one measurement; None with a single value."""
        return statistics.stdev(self.values) if self.n >= 2 else None

    @property
    def constant(self) -> bool:
        """Several measurements, all equal: the runs did not vary (e.g. the seed is ignored)."""
        return self.n >= 2 and len(set(self.values)) == 1

    @classmethod
    def of(cls, objective: float, extra: dict[str, Any] | None) -> Sample:
        values = (extra or {}).get("repeats")
        if isinstance(values, list) and len(values) >= 2 and all(isinstance(v, int | float) for v in values):
            return cls(float(objective), tuple(float(v) for v in values))
        return cls(float(objective), (float(objective),))

    @classmethod
    def of_experiment(cls, experiment: Experiment) -> Sample:
        """A measured experiment's objective and the repeats it was averaged from."""
        assert experiment.objective is not None
        return cls.of(experiment.objective, experiment.extra)

    @classmethod
    def of_evaluation(cls, evaluation: Evaluation) -> Sample:
        assert evaluation.objective is not None
        return cls.of(evaluation.objective, evaluation.extra)


@dataclass(frozen=True)
class Spread:
    """The variance of a sample's mean, and the degrees of freedom of that estimate."""

    variance: float
    dof: int


def spread(sample: Sample, noise: Sample | None) -> Spread | None:
    """How uncertain SAMPLE's mean is, using NOISE (the baseline's repeats) when it has no spread of its own.

    A sample whose repeats are all equal while the baseline's vary did not vary with the seed: its
    repeats are not independent, so it counts as one measurement with the baseline's spread.
    """
    noise_std = noise.std if noise is not None and noise.n >= 2 else None
    if sample.n >= 2 and not (sample.constant and noise_std):
        assert sample.std is not None
        return Spread(sample.std**2 / sample.n, sample.n - 1)
    if noise_std is None or noise is None:
        return None
    return Spread(noise_std**2, noise.n - 1)


def significance(
    candidate: Sample, incumbent: Sample, noise: Sample | None, spec: NoiseSection, direction: str
) -> Verdict:
    """Is CANDIDATE better than INCUMBENT by more than the noise (factor x standard error, or Welch)?"""
    delta = improvement(candidate.mean, incumbent.mean, direction)
    a, b = spread(candidate, noise), spread(incumbent, noise)
    if a is None or b is None:
        return Verdict(
            delta > 0, f"no noise estimate; strict: {'better' if delta > 0 else 'not better'} by {delta:.6g}"
        )
    se = math.sqrt(a.variance + b.variance)
    if delta <= 0:
        return Verdict(False, f"not better (by {delta:.6g}; standard error {se:.3g})")
    if se == 0:
        return Verdict(True, f"better by {delta:.6g} with no measurable noise")
    if spec.test == "welch":
        from scipy import stats  # optional and slow to import: only for test = "welch"

        parts = [s.variance**2 / s.dof for s in (a, b) if s.dof > 0]
        dof = se**4 / sum(parts) if parts else 1.0
        p = float(stats.t.sf(delta / se, dof))
        alpha = spec.significance_level
        keep = p < alpha
        word = "significant" if keep else "not significant"
        return Verdict(keep, f"better by {delta:.6g}, {word}: one-sided Welch p = {p:.3g} (alpha {alpha:g})")
    z = delta / se
    keep = z > spec.factor
    verb = "beyond" if keep else "within"
    return Verdict(keep, f"better by {delta:.6g} = {z:.2f} standard errors, {verb} the noise (factor {spec.factor:g})")


def rule_verdict(
    candidate: Sample, best: Experiment, noise: Sample | None, spec: NoiseSection, direction: str
) -> Verdict:
    """The spec's keep rule for CANDIDATE against the incumbent BEST."""
    assert best.objective is not None
    if spec.rule in ("strict", "paired"):  # paired: the referee runs the pairs; here a plain comparison
        return judge(candidate.mean, best, direction)
    if spec.rule == "min_delta":
        assert spec.min_delta is not None
        delta = improvement(candidate.mean, best.objective, direction)
        if delta > spec.min_delta:
            return Verdict(True, f"better than #{best.id} by {delta:.6g} (> min_delta {spec.min_delta:g})")
        return Verdict(False, f"{delta:+.6g} vs #{best.id} is not more than min_delta {spec.min_delta:g}")
    verdict = significance(candidate, Sample.of_experiment(best), noise, spec, direction)
    return Verdict(verdict.keep, f"vs #{best.id}: {verdict.reason}")


def holdout_budget_text(budget: int, spent: int) -> str:
    """One line on the holdout budget, for the run's output, status, the report and rejections."""
    if spent >= budget:
        return f"holdout budget spent ({spent} of {budget} decisions): the holdout is no longer consulted"
    return f"holdout budget: {spent} of {budget} decisions spent"


class Referee:
    """Decides kept / reverted / rejected for a measured candidate, beyond the bare comparison.

    In order: flags (integrity) -> the keep rule (noise) -> a suspiciously large gain is re-run ->
    the holdout must not get worse -> the new best and the old best are re-measured with fresh seeds.
    It records what it did in the evaluation's `extra` (and the holdout in its `record`).
    """

    def __init__(self, spec: Spec, evaluator: Evaluator) -> None:
        self.spec = spec
        self.evaluator = evaluator
        self.direction = spec.study.direction
        self.objectives = tuple(spec.metric.objectives or ())  # several: the study keeps a Pareto front
        # Candidates the holdout has decided (the loop counts them from the store on resume).
        self.holdout_spent = 0

    def baseline(self, experiment: Experiment, evaluation: Evaluation) -> None:
        """The baseline gets a holdout value too, so that the first kept candidate has one to beat; and, with
        several objectives, its values of each (the front's first member)."""
        if self.objectives:
            values = objective_values(evaluation.metrics, self.objectives)
            if isinstance(values, dict):
                evaluation.record["objectives"] = values
        if self.spec.holdout is not None:
            self._holdout(experiment, evaluation)

    def decide(
        self, experiment: Experiment, evaluation: Evaluation, best: Experiment | None, history: History
    ) -> tuple[Decision, str]:
        assert evaluation.objective is not None
        if self.objectives:
            return self._decide_front(experiment, evaluation, best, history)
        extra = evaluation.extra
        noise = self._noise(history)
        candidate = Sample.of_evaluation(evaluation)
        if best is None or best.objective is None:
            return Decision.KEPT, "first measured candidate"
        extra["strict_keep"] = improvement(candidate.mean, best.objective, self.direction) > 0
        if candidate.constant and noise is not None and noise.std:
            extra.setdefault("flags", []).append(
                f"all {candidate.n} repeats gave {candidate.mean:.6g} while the baseline's vary: "
                "the seed may be ignored"
            )
        flags = extra.get("flags", [])
        if flags and self.spec.integrity.reject_flagged:
            return Decision.REJECTED, "flagged (integrity.reject_flagged): " + " | ".join(flags)
        if self.spec.noise.rule == "paired":
            verdict = self._paired(experiment, evaluation, best)
        else:
            verdict = rule_verdict(candidate, best, noise, self.spec.noise, self.direction)
        if not verdict.keep:
            return Decision.REVERTED, verdict.reason
        if self.spec.noise.rule == "significant" and candidate.constant and noise is not None and noise.std:
            # Runs that no longer vary with the seed are not independent measurements: there is no
            # evidence of significance, only one draw (the classic seed hack).
            return (
                Decision.REVERTED,
                f"{candidate.n} identical repeats while the baseline's vary: not evidence of a gain",
            )
        reason = verdict.reason
        sigmas = self._sigmas(candidate.mean, best.objective, history)
        if sigmas is not None and sigmas > self.spec.integrity.suspicious_sigmas:
            note = f"suspicious: the gain is {sigmas:.1f} standard deviations of the history's objectives"
            extra.setdefault("flags", []).append(note)
            if self.spec.integrity.recheck_suspicious:
                again = self._remeasure(experiment, experiment, offset=1000 * experiment.id + 500)
                extra["suspicious_recheck"] = again.values if again else None
                if again is None or not rule_verdict(again, best, noise, self.spec.noise, self.direction).keep:
                    got = f"{again.mean:.6g}" if again else "a failed run"
                    return Decision.REJECTED, f"{note}; re-run gave {got}, which does not beat #{best.id}"
                reason += "; suspiciously large, confirmed by a re-run"
        if self.spec.holdout is not None:
            if self.holdout_spent >= self.spec.holdout.budget:  # each decision told proposers one more bit
                reason += f"; {holdout_budget_text(self.spec.holdout.budget, self.holdout_spent)}"
            else:
                self.holdout_spent += 1
                why = self._holdout_check(experiment, evaluation, best)
                if why is not None:
                    return Decision.REJECTED, why
        if self.spec.noise.recheck_best:
            why = self._recheck(experiment, evaluation, best, noise)
            if why is not None:
                return Decision.REVERTED, why
            reason += "; confirmed on fresh seeds against the previous best"
        return Decision.KEPT, reason

    def _decide_front(
        self, experiment: Experiment, evaluation: Evaluation, best: Experiment | None, history: History
    ) -> tuple[Decision, str]:
        """Several objectives: kept when it joins the Pareto front (front_verdict); flags and the holdout
        apply as with one objective. Records its values, and the members a kept one pushes off."""
        values = objective_values(evaluation.metrics, self.objectives)
        if isinstance(values, str):
            return Decision.FAILED, values
        evaluation.record["objectives"] = values
        point = tuple(values[name] for name in self.objectives)
        assert history.front is not None  # a History made with the spec's objectives
        verdict = front_verdict(point, history.front, self.objectives)
        evaluation.extra["strict_keep"] = verdict.keep
        flags = evaluation.extra.get("flags", [])
        if flags and self.spec.integrity.reject_flagged:
            return Decision.REJECTED, "flagged (integrity.reject_flagged): " + " | ".join(flags)
        if not verdict.keep:
            return Decision.REVERTED, verdict.reason
        reason = verdict.reason
        if self.spec.holdout is not None and best is not None:
            if self.holdout_spent >= self.spec.holdout.budget:
                reason += f"; {holdout_budget_text(self.spec.holdout.budget, self.holdout_spent)}"
            else:
                self.holdout_spent += 1
                why = self._holdout_check(experiment, evaluation, best)  # no max_worsening: it must not fail
                if why is not None:
                    return Decision.REJECTED, why
        evaluation.extra["front"] = {"pushed_off": [e.id for e in history.front.dominated_by(point)]}
        return Decision.KEPT, reason

    # -- pieces ------------------------------------------------------------------------------------

    def _paired(self, experiment: Experiment, evaluation: Evaluation, best: Experiment) -> Verdict:
        """The candidate and the incumbent run alternately in the candidate's slot (see paired.py)."""
        noise = self.spec.noise
        runs = paired.Interleaved(
            self.evaluator,
            experiment,
            best,
            for_experiment=experiment,
            direction=self.direction,
            seed_offset=1000 * experiment.id + 200,  # fresh seeds: 1000 * id + i is the recheck's
            rng=paired.order_rng(self.spec.study.seed, experiment.id),
        )
        verdict = paired.sequential(runs, noise.pairs, noise.max_pairs, noise.significance_level)
        evaluation.extra["paired"] = verdict.record
        return Verdict(verdict.keep, verdict.reason)

    def _noise(self, history: History) -> Sample | None:
        """The baseline's repeated measurement: the per-run noise when a candidate has one value."""
        baseline = history.baseline
        if baseline is None or baseline.objective is None:
            return None
        sample = Sample.of_experiment(baseline)
        return sample if sample.n >= 2 else None

    def _sigmas(self, candidate: float, incumbent: float, history: History) -> float | None:
        n, std = history.objective_spread()  # kept up to date as experiments finish: no rescan
        if n < 5:
            return None  # too little history to call anything unusual
        delta = improvement(candidate, incumbent, self.direction)
        return delta / std if std > 0 else None

    def _remeasure(self, target: Experiment, for_experiment: Experiment, offset: int) -> Sample | None:
        again = self.evaluator.remeasure(target, for_experiment=for_experiment, seed_offset=offset)
        if again.objective is None or again.error is not None or again.rejected is not None:
            return None
        return Sample.of_evaluation(again)

    def _recheck(
        self, experiment: Experiment, evaluation: Evaluation, best: Experiment, noise: Sample | None
    ) -> str | None:
        """Re-measure the candidate and the previous best on the same fresh seeds; None if it still wins.

        The two sides' runs alternate (repeat i of each, in a random order), not one block after the
        other, so that a slow phase of the machine does not fall on one side only.
        """
        offset = 1000 * experiment.id  # fresh seeds, shared by both sides (a paired comparison)
        runs = paired.Interleaved(
            self.evaluator,
            experiment,
            best,
            for_experiment=experiment,
            direction=self.direction,
            seed_offset=offset,
            rng=paired.order_rng(self.spec.study.seed, experiment.id, 1),
        )
        failed = runs.measure(self.spec.run.repeats)
        evaluation.extra["recheck"] = {
            "seed_offset": offset,
            "candidate": None if failed else runs.a_values,
            "incumbent_id": best.id,
            "incumbent": None if failed else runs.b_values,
        }
        if failed is not None:
            evaluation.extra["recheck"]["kept"] = False
            return f"{failed} on fresh seeds; not kept"
        candidate = Sample(statistics.fmean(runs.a_values), tuple(runs.a_values))
        incumbent = Sample(statistics.fmean(runs.b_values), tuple(runs.b_values))
        fresh = Experiment(id=best.id, status="done", proposal={}, created_at=0.0, objective=incumbent.mean)
        fresh.extra = {"repeats": list(incumbent.values)} if incumbent.n >= 2 else {}
        verdict = rule_verdict(candidate, fresh, noise, self.spec.noise, self.direction)
        evaluation.extra["recheck"]["kept"] = verdict.keep
        if verdict.keep:
            return None
        return (
            f"regression to the mean: on fresh seeds the candidate measured {candidate.mean:.6g} and "
            f"#{best.id} {incumbent.mean:.6g} ({verdict.reason})"
        )

    def _holdout(self, experiment: Experiment, evaluation: Evaluation) -> float | None:
        holdout = self.spec.holdout
        assert holdout is not None
        result = self.evaluator.holdout(experiment)
        values: dict[str, Any] = dict(result.metrics)
        if result.objective is not None and result.error is None:
            values[holdout.metric] = result.objective
        else:
            values["error"] = result.error or "no holdout value"
        evaluation.record["holdout"] = values
        return result.objective if result.error is None else None

    def _holdout_check(self, experiment: Experiment, evaluation: Evaluation, best: Experiment) -> str | None:
        """Run the holdout; why the candidate must not be kept (in words without holdout values), or None."""
        holdout = self.spec.holdout
        assert holdout is not None
        value = self._holdout(experiment, evaluation)
        if value is None:
            return f"{HOLDOUT_VETO}: its evaluation failed (its logs are in the experiment's holdout/ folder)"
        previous = (best.holdout or {}).get(holdout.metric)
        if holdout.max_worsening is None or not isinstance(previous, int | float):
            return None
        # Proposers are shown HOLDOUT_VETO alone (history.proposer_view); the store keeps why, without values.
        if improvement(value, float(previous), self.direction) < -holdout.max_worsening:
            return (
                f"{HOLDOUT_VETO}: its metric got worse than #{best.id}'s by more than max_worsening "
                f"({holdout.max_worsening:g}): an overfit to the search metric"
            )
        return None
