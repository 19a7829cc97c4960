"""Resume: the loop's state rebuilt from the store when a study starts, new or half done.

The store is the truth (loop.py). Replaying its decided experiments in the order they were decided
rebuilds the archive (baseline, global best, stagnation) and the search policy as the run that decided
them had them; then the policy's saved state is restored. The same pass counts what the budget has
used and which parameters were tried. Rows a crash left `running` are run again once under their ids
(the loop does that, with its workers); a row that died with the run twice is marked failed here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from autoresearch.core.experiment import Decision, Experiment, decided_order, failed_baseline
from autoresearch.core.proposal import Proposal, proposal_of
from autoresearch.core.space import params_key
from autoresearch.search.archive import Archive
from autoresearch.search.policy import SearchPolicy
from autoresearch.spec import Spec, SpecChanged, is_budget_key, is_measurement_key, listed_changes, spec_changes
from autoresearch.store.database import Store

# A row left `running` by a crash is re-run once; if the run dies again it is marked failed.
MAX_ATTEMPTS = 2
# The search policy's state (search/policy.py), saved with the row of each candidate it chose for.
POLICY_STATE = "search_state"


@dataclass
class Replayed:
    """What the pass over the store found besides the archive and the policy it rebuilt."""

    rows: int = 0  # experiments in the store, all decisions and running ones
    spent: float = 0.0  # their cost in USD
    holdout_decisions: int = 0  # candidates the holdout decided: its budget counts across runs
    tried: dict[str, int] = field(default_factory=dict)  # params run (or running) -> the first experiment's id


def replay(store: Store, archive: Archive, policy: SearchPolicy) -> Replayed:
    """Rebuild ARCHIVE and POLICY from STORE, in one pass over its rows (see the module's docstring)."""
    for experiment in store.experiments(status="running"):
        if experiment.attempts >= MAX_ATTEMPTS:  # it died with the run twice: do not try a third time
            store.finish_experiment(
                experiment.id,
                decision=Decision.FAILED,
                reason=f"interrupted {experiment.attempts} times while running; not retried again",
            )
    replayed = Replayed()
    done = []
    for experiment in store.experiments():  # one pass over every row, in id order
        replayed.rows += 1
        replayed.spent += experiment.cost_usd or 0.0
        if (
            experiment.params is not None
            and experiment.decision != Decision.REJECTED
            and not failed_baseline(experiment)
        ):
            replayed.tried.setdefault(params_key(experiment.params), experiment.id)
        if experiment.status == "done":
            done.append(experiment)
        if experiment.holdout is not None and experiment.decision != Decision.BASELINE:
            replayed.holdout_decisions += 1
    done.sort(key=lambda e: decided_order(e.finished_at, e.id))
    for experiment in done:
        policy.observe(archive.add(experiment))
    saved = json.loads(store.get_meta(POLICY_STATE) or "{}")
    if saved.get("policy") == policy.name:  # another policy's (an accepted spec change) is not ours
        policy.restore(saved.get("state", {}))
    return replayed


def left_running(store: Store) -> list[tuple[Experiment, Proposal]]:
    """The rows a crash or Ctrl-C left `running`, each with the proposal to run again under its id."""
    return [
        (
            experiment,
            dataclasses.replace(
                proposal_of(experiment),
                strategy=experiment.strategy,
                parent_id=experiment.parent_id,
                extra=experiment.extra,
            ),
        )
        for experiment in store.experiments(status="running")
    ]


def check_spec(spec: Spec, store: Store, *, baseline_measured: bool, accept: bool) -> list[str]:
    """Compare SPEC with the one the study last ran with (recorded in STORE), then record SPEC.

    The spec is the study's contract, and with no sandbox an experiment can write to it: a changed
    spec never takes effect silently. After a failed baseline it is what the user did to fix it, so the
    baseline is retried with it; after a measured one the run stops (SpecChanged) unless ACCEPT.
    Returns notes for the user (a changed budget, an accepted change)."""
    snapshot = spec.source
    if snapshot is None:  # built in code (autoresearch.optimize): nothing on disk to compare
        return []
    notes = []
    changes = spec_changes(spec, store)
    budget = [change for change in changes if is_budget_key(change[0])]
    changes = [change for change in changes if not is_budget_key(change[0])]
    if budget:
        notes.append(f"the budget changed: {listed_changes(budget)}")
    if changes:
        if baseline_measured and not accept:
            raise SpecChanged(_spec_change_message(changes, spec.name))
        if not baseline_measured:
            notes.append(
                f"the spec changed since the failed baseline ({listed_changes(changes)}); retrying the baseline with it"
            )
        else:
            notes.append(f"accepted the spec change: {listed_changes(changes)}")
    store.set_meta("spec_snapshot", snapshot.model_dump_json())
    store.set_meta("spec_hash", snapshot.hash)
    return notes


def _spec_change_message(changes: list[tuple[str, str, str]], study: str) -> str:
    """One line: what changed, and how to go on."""
    measured = [key for key, _, _ in changes if is_measurement_key(key)]
    shown = listed_changes(changes)
    accept = "`autoresearch run --accept-spec-change`"
    if measured:
        return (
            f"the spec changed since study {study!r} last ran: {shown}. That changes how candidates "
            f"are measured, so earlier results may not compare: start a new study (set [study] name = "
            f'"{study}-2"), or continue this one with {accept}'
        )
    return f"the spec changed since study {study!r} last ran: {shown}; to continue with it, run {accept}"
