"""Ablation: the best re-measured with each kept change removed, one at a time, by the study's noise rule.

A chain of kept changes says what was kept, not what mattered: a change kept on a lucky draw, or one
whose gain a later change made redundant, rides along as a passenger. Each kept change on the best's
lineage is undone on its own (params mode: its parameters put back to its parent's values; code mode:
its commit reverted onto the best's, file by file, or reported as not merging cleanly), and the best is
measured against that variant the way the study decides a keep: interleaved pairs under `paired`, the
run's repeats otherwise (at least MIN_PAIRS pairs, so that every verdict has an interval). A change
*carries* the gain when the best beats the variant by the rule, is *harmful* when the variant beats the
best by the rule, and is a *passenger* otherwise.

Every run goes through the study's evaluator (its sandbox, fresh checkouts, log rules); results go to
the store's `ablations` table, which nothing that counts experiments reads, and are reused by the next
`autoresearch writeup` while the best and the rule stay the same.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import stats
from autoresearch.core.experiment import Decision, Experiment, baseline_of, incumbent_of
from autoresearch.engine import paired
from autoresearch.engine.judge import Sample, rule_verdict
from autoresearch.store.database import Ablation, AblationStore

if TYPE_CHECKING:
    from autoresearch.execute.evaluate import Evaluator
    from autoresearch.spec import Spec
    from autoresearch.store.database import Store

ABLATION_SEEDS = 20_000_000  # seed offsets of ablation runs start here, far from experiments' and confirm's
# Under the rules without pairs, at least this many interleaved pairs per change: one pair would call a
# change harmful or the carrier of the gain on a single draw, and gives no interval to say how sure.
MIN_PAIRS = 3


def rule_label(spec: Spec) -> str:
    """The noise rule and the settings that shape an ablation's measurement: a changed one measures again."""
    noise = spec.noise
    alpha = f", alpha {noise.alpha:g}" if noise.alpha is not None else ""  # the default is the rule's own
    if noise.rule == "paired":
        return f"paired (pairs {noise.pairs} to {noise.max_pairs}{alpha})"
    detail = f"repeats {spec.run.repeats}"
    if noise.rule == "min_delta":
        detail += f", min_delta {noise.min_delta:g}"
    elif noise.rule == "significant":
        welch = noise.test == "welch"
        detail += f", welch{alpha}" if welch else f", factor {noise.factor:g}"
    return f"{noise.rule} ({detail})"


def lineage_changes(experiments: Sequence[Experiment], best: Experiment) -> list[tuple[Experiment, Experiment]]:
    """(change, its parent) for every experiment the best descends from, oldest first, the baseline aside.

    The lineage follows parent links, so a change kept on another branch of the search (a parallel
    worker's, another island's) is not part of the best and is not ablated. Under the greedy policy
    every step is a kept one; a tree policy may build on a failed draft (and keep its fix), whose own
    change is in the best all the same.
    """
    by_id = {e.id: e for e in experiments}
    chain: list[tuple[Experiment, Experiment]] = []
    node: Experiment | None = best
    seen: set[int] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        parent = by_id.get(node.parent_id) if node.parent_id is not None else None
        if node.decision != Decision.BASELINE and parent is not None:
            chain.append((node, parent))
        node = parent
    return chain[::-1]


@dataclass(frozen=True)
class Measured:
    outcome: str
    reason: str
    record: dict[str, Any]


def _failure(failed: str, variant: Experiment, change: Experiment) -> str:
    side = f"re-measuring #{variant.id} failed: "
    if failed.startswith(side):
        return f"the best without #{change.id} failed to run: {failed.removeprefix(side)}"
    return f"the best itself failed to run again: {failed.split(' failed: ', 1)[-1]}"


def measure(
    spec: Spec,
    evaluator: Evaluator,
    best: Experiment,
    variant: Experiment,
    change: Experiment,
    attempt: int,
    logs: Path,
    baseline_noise: Sample | None = None,
) -> Measured:
    """The best (A) against the variant without CHANGE (B), interleaved, judged by the study's rule.

    BASELINE_NOISE: the baseline's repeated measurement, the `significant` rule's noise estimate."""
    noise, direction = spec.noise, spec.study.direction
    runs = paired.Interleaved(
        evaluator,
        best,
        variant,
        for_experiment=best,
        direction=direction,
        seed_offset=ABLATION_SEEDS + 1000 * attempt,
        rng=paired.order_rng(spec.study.seed, best.id, change.id, attempt),
        logs=logs,
    )
    if noise.rule == "paired":
        verdict = paired.sequential(runs, noise.pairs, noise.max_pairs, noise.significance_level)
        record = dict(verdict.record)
        if "improvement" not in record:  # a run failed before the test could look
            return Measured("failed", _failure(verdict.reason.removesuffix("; not kept"), variant, change), record)
        record["effect"] = record["improvement"]
        if verdict.keep:
            return Measured("carrier", f"without #{change.id}: {verdict.reason}", record)
        outcome = "harmful" if record["high"] < 0 else "passenger"
        return Measured(outcome, f"without #{change.id}: {verdict.reason}", record)
    failed = runs.measure(max(spec.run.repeats, MIN_PAIRS))
    record = runs.record()
    if failed is not None:
        return Measured("failed", _failure(failed, variant, change), record)
    differences = runs.differences()
    record["effect"] = runs.fraction(statistics.fmean(differences))
    if len(differences) >= 2:
        summary = stats.paired_summary(differences)
        record |= {"low": runs.fraction(summary.low), "high": runs.fraction(summary.high), "p": summary.p}
    record["pairs"] = len(differences)
    best_sample = Sample(statistics.fmean(runs.a_values), tuple(runs.a_values))
    variant_sample = Sample(statistics.fmean(runs.b_values), tuple(runs.b_values))
    keep = rule_verdict(best_sample, _as_incumbent(variant, variant_sample), baseline_noise, noise, direction)
    words = f"best {best_sample.mean:.6g} vs {variant_sample.mean:.6g} without #{change.id}"
    if keep.keep:
        return Measured("carrier", f"{words}: {keep.reason}", record)
    reverse = rule_verdict(variant_sample, _as_incumbent(best, best_sample), baseline_noise, noise, direction)
    if reverse.keep:
        return Measured("harmful", f"{words}: without it the best is better ({reverse.reason})", record)
    return Measured("passenger", f"{words}: {keep.reason}", record)


def _as_incumbent(experiment: Experiment, sample: Sample) -> Experiment:
    extra = {"repeats": list(sample.values)} if sample.n >= 2 else {}
    return Experiment(id=experiment.id, status="done", proposal={}, created_at=0.0, objective=sample.mean, extra=extra)


def ablate(
    spec: Spec,
    store: Store,
    evaluator: Evaluator,
    *,
    on_start: Callable[[Experiment], None] | None = None,
) -> list[Ablation]:
    """Ablate every kept change of the best's lineage; reuse what the store already holds for this
    best and rule (a failed one is measured again). Returns the ablations, oldest change first."""
    experiments = store.experiments(status="done")
    best = incumbent_of(experiments)
    if best is None or best.objective is None:
        return []
    table = AblationStore(store)
    rule = rule_label(spec)
    done = {
        a.change_id: a
        for a in table.all()
        if a.best_id == best.id and a.rule == rule and a.status == "done" and a.outcome != "failed"
    }
    baseline = baseline_of(experiments)
    noise = Sample.of_experiment(baseline) if baseline and baseline.objective is not None else None
    if noise is not None and noise.n < 2:
        noise = None
    results: list[Ablation] = []
    for change, parent in lineage_changes(experiments, best):
        if change.id in done:
            results.append(done[change.id])
            continue
        if on_start is not None:
            on_start(change)
        row = table.start(best.id, change.id, rule)
        variant = evaluator.without(best, change, parent, -change.id)
        if isinstance(variant, str):
            measured = Measured("conflict", variant, {})
            described: dict[str, Any] = {}
        else:
            described = _describe(variant)
            if _same(variant, best):
                measured = Measured("superseded", f"nothing of #{change.id} is left: later changes replaced it", {})
            else:
                logs = spec.study_dir / "ablations" / f"{row.id:05d}"
                measured = measure(spec, evaluator, best, variant, change, row.id, logs, noise)
                # The variant's id is an internal negative number: name it by what it is.
                reason = measured.reason.replace(f"#{variant.id}", f"the best without #{change.id}")
                measured = Measured(measured.outcome, reason, measured.record)
        table.finish(
            row.id, outcome=measured.outcome, reason=measured.reason, variant=described, record=measured.record
        )
        results.append(next(a for a in table.all() if a.id == row.id))
    return results


def _describe(variant: Experiment) -> dict[str, Any]:
    if variant.params is not None:
        return {"params": variant.params}
    return {"commit": variant.commit_sha, "diff": variant.diff or ""}


def _same(variant: Experiment, best: Experiment) -> bool:
    if variant.params is not None:
        return variant.params == best.params
    return variant.commit_sha == best.commit_sha


def stored(store: Store, spec: Spec) -> list[Ablation]:
    """The latest finished ablation of each kept change of the current best under the current rule."""
    best = store.incumbent()
    if best is None:
        return []
    rule = rule_label(spec)
    latest: dict[int, Ablation] = {}
    for a in AblationStore(store).all():
        if a.best_id == best.id and a.rule == rule and a.status == "done":
            latest[a.change_id] = a
    return [latest[k] for k in sorted(latest)]
