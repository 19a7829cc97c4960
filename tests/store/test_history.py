"""history.proposer_view: the one place holdout data is taken out of what proposers are shown."""

from __future__ import annotations

import json
from pathlib import Path

from autoresearch.core.experiment import Decision, Experiment
from autoresearch.propose.base import Context
from autoresearch.propose.script import context_payload
from autoresearch.spec import load_spec
from autoresearch.store.history import History, proposer_view
from tests.conftest import write_study


def _experiment(id: int, **fields: object) -> Experiment:
    base = {"status": "done", "proposal": {}, "created_at": 0.0, "objective": 1.0, "decision": Decision.REVERTED}
    return Experiment(id=id, **(base | fields))  # type: ignore[arg-type]


def test_a_reason_naming_the_holdout_metric_is_cut_where_the_name_starts() -> None:
    failed = _experiment(
        3,
        decision=Decision.FAILED,
        reason="exit code 1: Test_Loss: 0.777123\nguard tests failed: 2 passed",
        holdout={"test_loss": 0.5},
        metrics={"loss": 1.0, "test_loss": 0.777123},
    )
    view = proposer_view(failed, "test_loss")
    assert view.holdout is None and view.metrics == {"loss": 1.0}
    assert view.reason is not None and "0.777" not in view.reason
    assert view.reason.startswith("exit code 1: [removed") and view.reason.endswith("guard tests failed: 2 passed")
    assert failed.reason is not None and "0.777123" in failed.reason  # the record itself is left as it was


def test_every_holdout_veto_reads_the_same_to_a_proposer() -> None:
    # Failed or worse by more than max_worsening: one bit (vetoed) reaches proposers, never which.
    reasons = [
        "vetoed by the holdout: its evaluation failed (its logs are in the experiment's holdout/ folder)",
        "vetoed by the holdout: its metric got worse than #4's by more than max_worsening (0.01): an overfit",
    ]
    shown = {proposer_view(_experiment(5, decision=Decision.REJECTED, reason=r), "acc").reason for r in reasons}
    assert shown == {"vetoed by the holdout"}


def test_a_study_without_holdout_shows_reasons_as_they_are() -> None:
    failed = _experiment(2, reason="exit code 1: test_loss: 3")
    assert proposer_view(failed, None).reason == "exit code 1: test_loss: 3"


def test_every_experiment_a_context_shows_goes_through_it(tmp_path: Path) -> None:
    root = write_study(
        tmp_path / "s",
        """
        [study]
        name = "h"
        [run]
        command = "true"
        [metric]
        name = "loss"
        [params]
        x = { low = 0, high = 1 }
        [holdout]
        command = "true"
        metric = "test_loss"
        """,
    )
    spec = load_spec(root)
    secret = {"holdout": {"test_loss": 0.777123}, "metrics": {"test_loss": 0.777123}}
    reason = "exit code 1: test_loss 0.777123"
    history = History("minimize", [_experiment(1, **secret)], holdout_metric="test_loss")
    outside = _experiment(9, reason=reason, **secret)  # not in the history (a custom integration)
    context = Context(spec=spec, history=history, best=_experiment(1, **secret), parent=outside, lineage=[outside])
    payload = json.dumps(context_payload(context))
    assert "0.777123" not in payload
    assert context.lineage[0].reason is not None and "0.777123" not in context.lineage[0].reason
