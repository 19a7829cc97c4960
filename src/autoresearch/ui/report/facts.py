"""What a research note says (`autoresearch writeup`), gathered once from the spec and the store: the
facts, every number the note may state (the NumberBook its LLM prose is checked against), and the tables
and bullets made of them. The template's prose and the LLM's (prose.py) and the note itself (writeup.py)
are written from these.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from autoresearch.core.experiment import Decision, Experiment, incumbent_of
from autoresearch.engine import ablation as ablation_mod
from autoresearch.engine.paired import Confirmation
from autoresearch.spec import Spec
from autoresearch.store.database import Ablation, AblationStore, Store
from autoresearch.ui.report import note as n
from autoresearch.ui.report.markdown import fmt
from autoresearch.ui.report.numbers import NumberBook
from autoresearch.ui.report.summary import Summary, summarize_spec

CONFIDENCE = 0.95  # the level of every interval the note shows (a method constant, not a measurement)

OUTCOME_WORDS = {
    "carrier": "carries the gain",
    "passenger": "passenger",
    "harmful": "harmful (better without it)",
    "superseded": "superseded (nothing of it is left)",
    "conflict": "not measured: does not revert cleanly",
    "failed": "not measured: a run failed",
}


@dataclass
class Facts:
    """What the note says, gathered once from the spec and the store."""

    spec: Spec
    summary: Summary
    experiments: list[Experiment]
    best: Experiment | None
    confirmation: Confirmation | None  # only when it measured the current best
    ablations: list[Ablation]  # the current best's, under the current rule
    changes: list[tuple[Experiment, Experiment]]  # the best's kept lineage: (change, parent)
    ablation_skipped: bool
    sandbox: str | None
    question: str
    flagged: list[Experiment] = field(default_factory=list)
    suspicious: list[Experiment] = field(default_factory=list)

    @property
    def metric(self) -> str:
        return self.spec.metric.name

    def ablation_of(self, change_id: int) -> Ablation | None:
        return next((a for a in self.ablations if a.change_id == change_id), None)


def gather(spec: Spec, store: Store, *, ablation_skipped: bool = False) -> Facts:
    experiments = store.experiments()
    done = [e for e in experiments if e.status == "done"]
    summary = summarize_spec(spec, experiments)
    best = incumbent_of(done)
    confirmation = Confirmation.from_store(store)
    if confirmation is not None and (best is None or confirmation.best_id != best.id):
        confirmation = None  # it measured an earlier best
    flagged = [e for e in done if (e.extra or {}).get("flags")]
    suspicious = [e for e in flagged if any(str(f).startswith("suspicious") for f in e.extra["flags"])]
    try:
        question = spec.goal.strip()
    except OSError:
        question = ""
    return Facts(
        spec=spec,
        summary=summary,
        experiments=experiments,
        best=best,
        confirmation=confirmation,
        ablations=ablation_mod.stored(store, spec),
        changes=ablation_mod.lineage_changes(done, best) if best is not None else [],
        ablation_skipped=ablation_skipped,
        sandbox=store.get_meta("sandbox"),
        question=question,
        flagged=flagged,
        suspicious=suspicious,
    )


def number_book(facts: Facts, store: Store) -> NumberBook:
    """Every number the note may state: the store's values, and the figures computed from them here."""
    book = NumberBook()
    direction = facts.spec.study.direction
    by_id = {e.id: e for e in facts.experiments}
    for e in facts.experiments:
        book.add(
            e.id,
            e.parent_id,
            e.objective,
            e.params,
            e.holdout,
            e.extra.get("repeats"),
            e.extra.get("paired"),
        )
        book.add_metrics(e.metrics)
        book.add_seconds(e.duration)
        parent = by_id.get(e.parent_id) if e.parent_id is not None else None
        if parent is not None and e.decision in ("kept", "reverted"):
            book.add_step(parent.objective, e.objective, direction)  # what each candidate changed
    for key in ("spec_snapshot", "confirmation"):
        book.add(store.get_meta(key))
    for a in AblationStore(store).all():
        book.add(a.id, a.best_id, a.change_id, a.record)
        book.add_gain(*(a.record.get(k) for k in ("effect", "low", "high")))
    s = facts.summary
    book.add(s.total, list(s.counts.values()), s.improvement_abs, s.improvement_pct, s.strict_kept, CONFIDENCE)
    book.add([step.delta for step in s.chain])
    # Changes, by kind: the best against the baseline and each kept step against the one before.
    book.add_step(s.baseline, s.best, direction)
    for before, after in zip(s.chain, s.chain[1:], strict=False):
        book.add_step(before.objective, after.objective, direction)
    c = facts.confirmation
    if c is not None:
        book.add_gain(c.improvement, c.low, c.high, c.selected)
    book.add_seconds(facts.spec.run.timeout, s.wall_s, s.compute_s)
    if facts.spec.budget.hours:
        book.add_seconds(3600 * facts.spec.budget.hours)
    for st in s.strategies:
        book.add(st.total, st.kept, st.reverted, st.failed, st.rejected)
    for f in s.failure_reasons:
        book.add(f.count, list(f.decisions.values()), f.example_ids)
    book.add(len(facts.changes), len(facts.flagged), len(facts.suspicious))
    book.add(list(Counter(a.outcome for a in facts.ablations).values()))
    book.add(facts.spec.run.repeats, facts.spec.run.timeout)
    return book


# -- the note's tables and bullets -------------------------------------------------------------------


def _pct(fraction: float | None) -> str:
    return "—" if fraction is None else f"{100 * fraction:+.1f}%"


def interval(record: dict[str, Any]) -> str:
    effect = record.get("effect")
    if effect is None:
        return "—"
    text = _pct(effect)
    if record.get("low") is not None and record.get("high") is not None:
        text += f" ({CONFIDENCE:.0%} CI {_pct(record['low'])} to {_pct(record['high'])})"
    if record.get("pairs"):
        text += f", {record['pairs']} pair{'s' if record['pairs'] != 1 else ''}"
    return text


def what_changed(change: Experiment, parent: Experiment, mode: str, best: Experiment | None = None) -> str:
    """A kept change in a few words: its parameter moves (those a later change replaced marked so: the
    ablation leaves them), or the files its diff touches and its first lines."""
    if mode == "params" and change.params is not None and parent.params is not None:
        moves = [
            n.code(f"{k}: {_value(parent.params.get(k))} -> {_value(v)}")
            + (" (replaced later)" if best is not None and best.params is not None and best.params.get(k) != v else "")
            for k, v in change.params.items()
            if parent.params.get(k) != v
        ]
        return ", ".join(moves) or "no parameter"
    diff = change.diff or ""
    files = sorted(set(re.findall(r"^\+\+\+ b/(.+)$", diff, re.MULTILINE)))
    # The first lines it removed and added, quoted: enough to recognise the change (`show` has it all).
    lines = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    shown = [n.code(line[:80]) for line in lines[:2] if line[1:].strip()]
    return ", ".join(n.code(f) for f in files) + (": " + " ".join(shown) if shown else "") or "no file"


def _value(value: Any) -> str:
    return json.dumps(value)


def setup_items(facts: Facts) -> list[str]:
    spec = facts.spec
    items = [
        f"mode: {spec.mode}; the experiment: {n.code(spec.run.command)}",
        f"objective: {n.code(spec.metric.objective or spec.metric.name)}, to {spec.study.direction}",
    ]
    if spec.mode == "params":
        space = [
            n.code(f"{name}: {_value(p.model_dump(exclude_none=True, exclude_defaults=True))}")
            for name, p in spec.params.items()
        ]
        items.append("search space: " + (", ".join(space) or "none"))
    elif spec.code is not None:
        items.append(
            f"editable: {', '.join(n.code(g) for g in spec.code.editable)}; protected: "
            + (", ".join(n.code(g) for g in [*spec.code.protected, *spec.integrity.protected]) or "none")
        )
    items.append(f"proposer: {n.code(spec.proposer.use)}; search policy: {n.code(spec.search.policy)}")
    budget = spec.budget
    limits = [
        f"{budget.experiments} experiments" if budget.experiments else "",
        f"{budget.hours:g} hours" if budget.hours else "",
        f"patience {budget.patience}" if budget.patience else "",
        f"target {budget.target:g}" if budget.target is not None else "",
    ]
    items.append("budget: " + (", ".join(x for x in limits if x) or "none"))
    items.append(f"noise rule: {_rule_words(spec)}")
    items.append(f"sandbox: {facts.sandbox or 'not recorded'}")
    if spec.holdout is not None:
        worse = spec.holdout.max_worsening
        items.append(
            f"holdout: {n.code(spec.holdout.metric)}, never shown to the proposer"
            + (f"; a keep may not worsen it by more than {worse:g}" if worse is not None else "")
            + (f"; {facts.summary.holdout_budget}" if facts.summary.holdout_budget else "")
        )
    if spec.guard:
        items.append("guards: " + ", ".join(n.code(g.name) for g in spec.guard))
    return items


def _rule_words(spec: Spec) -> str:
    noise = spec.noise
    repeats = spec.run.repeats
    runs = f"{repeats} run{'s' if repeats != 1 else ''} per candidate"
    if noise.rule == "paired":
        return (
            f"paired: candidate and incumbent alternate, {noise.pairs} pairs first, more up to {noise.max_pairs} "
            "while the sequential test is undecided"
        )
    if noise.rule == "min_delta":
        return f"min_delta: a keep must be better by more than {noise.min_delta:g} ({runs})"
    if noise.rule == "significant":
        test = "a one-sided Welch test" if noise.test == "welch" else f"{noise.factor:g} combined standard errors"
        return f"significant: better by more than {test} ({runs})"
    return f"strict: any improvement is kept ({runs})"


def results_rows(facts: Facts) -> list[list[str]]:
    s = facts.summary
    rows = [
        ["baseline", f"{fmt(s.baseline)} (#{s.baseline_id})" if s.baseline_id is not None else "—"],
        ["best", f"{fmt(s.best)} (#{s.best_id})" if s.best_id is not None else "—"],
    ]
    if s.improvement_abs is not None:
        pct = f" ({s.improvement_pct:.1f}%)" if s.improvement_pct is not None else ""
        rows.append(["improvement as selected by the search", f"{fmt(s.improvement_abs)}{pct}"])
    c = facts.confirmation
    if c is not None:
        rows.append(
            [
                "confirmed improvement",
                f"{_pct(c.improvement)} ({CONFIDENCE:.0%} CI {_pct(c.low)} to {_pct(c.high)}; {c.pairs} interleaved "
                f"pairs, #{c.best_id} vs #{c.baseline_id})",
            ]
        )
    else:
        rows.append(["confirmed improvement", "not measured"])
    rows.append(["experiments", f"{s.total}: " + ", ".join(f"{d} {k}" for d, k in s.counts.items() if k)])
    return rows


def ablation_rows(facts: Facts) -> list[list[str]]:
    rows = []
    for change, parent in facts.changes:
        a = facts.ablation_of(change.id)
        outcome = OUTCOME_WORDS.get(a.outcome or "", a.outcome or "") if a else "not measured"
        rows.append(
            [
                f"#{change.id}",
                what_changed(change, parent, facts.spec.mode, facts.best),
                outcome,
                interval(a.record) if a else "—",
                n.code(a.reason or "") if a else "",
            ]
        )
    return rows


def chain_rows(facts: Facts) -> list[list[str]]:
    return [
        [
            f"#{step.id}",
            step.decision,
            fmt(step.objective),
            "" if step.delta is None else f"{step.delta:+.6g}",
            n.code(step.strategy or ""),
            n.code((step.rationale or "")[:300]),
        ]
        for step in facts.summary.chain
    ]


def tried_blocks(facts: Facts) -> list[n.Block]:
    s = facts.summary
    blocks: list[n.Block] = []
    if s.strategies:
        blocks.append(
            n.table(
                ["strategy", "tried", "kept", "reverted", "failed", "rejected"],
                [
                    [n.code(st.strategy), *(str(x) for x in (st.total, st.kept, st.reverted, st.failed, st.rejected))]
                    for st in s.strategies
                ],
            )
        )
    else:
        blocks.append(n.paragraph("No candidate was tried after the baseline."))
    examples = _not_kept_by_strategy(facts)
    if examples:
        blocks.append(n.paragraph("What each strategy tried that was not kept (the latest few):"))
        blocks.append(n.table(["strategy", "#", "decision", "rationale", "why"], examples))
    if s.failure_reasons:
        blocks.append(n.paragraph("The most common reasons a candidate failed or was rejected:"))
        blocks.append(
            n.table(
                ["count", "decisions", "reason", "e.g."],
                [
                    [
                        str(f.count),
                        ", ".join(f"{d} {k}" for d, k in f.decisions.items()),
                        n.code(f.example or f.reason),
                        ", ".join(f"#{i}" for i in f.example_ids),
                    ]
                    for f in s.failure_reasons
                ],
            )
        )
    return blocks


EXAMPLES_PER_STRATEGY = 3


def _not_kept_by_strategy(facts: Facts) -> list[list[str]]:
    """Rows of the latest reverted, failed or rejected candidates of each strategy, strategies by name."""
    by: dict[str, list[Experiment]] = {}
    for e in reversed(facts.experiments):  # newest first: what the search tried last is the most telling
        if e.decision in ("reverted", "failed", "rejected"):
            group = by.setdefault(e.strategy or "(none)", [])
            if len(group) < EXAMPLES_PER_STRATEGY:
                group.append(e)
    return [
        [
            n.code(strategy),
            f"#{e.id}",
            e.decision or "",
            n.code((e.rationale or "")[:200]),
            n.code((e.reason or "")[:200]),
        ]
        for strategy in sorted(by)
        for e in by[strategy]
    ]


def _count(count: int, noun: str) -> str:
    """'1 experiment was', '3 experiments were'."""
    return f"{count} {noun} was" if count == 1 else f"{count} {noun}s were"


def threats(facts: Facts) -> list[str]:
    """Threats to validity, each a fact of the store in words."""
    spec, s = facts.spec, facts.summary
    items: list[str] = []
    c = facts.confirmation
    if c is not None:
        word = "reaches down to no improvement at all" if c.low <= 0 else "lies above no improvement"
        items.append(
            f"Winner's curse: the search measured {_pct(c.selected)} for the best it selected; re-measured against "
            f"the baseline on {c.pairs} interleaved pairs it is {_pct(c.improvement)}, and its interval {word}."
        )
    elif facts.best is not None and facts.best.decision == Decision.KEPT:
        items.append(
            "Winner's curse: the best was picked as the best of many noisy measurements, so its search figure is "
            "biased upward, and it was not re-measured (`autoresearch confirm` measures it)."
        )
    if spec.noise.rule in ("strict", "min_delta") and spec.run.repeats == 1:
        items.append(
            f"Few repeats: each candidate ran once and the `{spec.noise.rule}` rule kept any gain beyond its "
            "threshold, so noise may have decided some keeps."
        )
    if facts.flagged:
        shown = ", ".join(f"#{e.id}" for e in facts.flagged[:10])
        items.append(
            f"Integrity flags: {_count(len(facts.flagged), 'experiment')} flagged ({shown}); "
            "`autoresearch show` says why."
        )
    if facts.suspicious:
        shown = ", ".join(f"#{e.id}" for e in facts.suspicious[:10])
        items.append(
            f"Suspicious gains: {_count(len(facts.suspicious), 'gain')} implausibly large for the history ({shown})."
        )
    if s.holdout is not None and s.holdout.diverged:
        items.append("Holdout divergence: " + s.holdout.message + ".")
    elif spec.holdout is None:
        items.append("No holdout: the search metric is the only evidence; a gain may not carry to unseen data.")
    if facts.sandbox == "none":
        items.append(
            "Sandbox kind `none`: runs were not isolated, so a candidate could have read or changed what measures it."
        )
    passengers = [a for a in facts.ablations if a.outcome in ("passenger", "superseded")]
    if passengers:
        items.append(
            "Passengers: the best does not measurably need "
            + ", ".join(f"#{a.change_id}" for a in passengers)
            + ", although the search kept them."
        )
    unmeasured = [a for a in facts.ablations if a.outcome in ("conflict", "failed")]
    if unmeasured:
        items.append("Ablation gaps: " + ", ".join(f"#{a.change_id}" for a in unmeasured) + " could not be measured.")
    if not items:
        items.append("None found in the store's record.")
    return items
