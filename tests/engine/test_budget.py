"""The budget: each limit of [budget] against what a real store and archive say the study has used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autoresearch.core.experiment import Decision
from autoresearch.engine.budget import ELAPSED, Budget
from autoresearch.search.archive import Archive
from autoresearch.spec import Spec, spec_from_dict
from autoresearch.store.database import Store
from autoresearch.store.history import History


def _spec(root: Path, **budget: Any) -> Spec:
    data = {"study": {"name": "b"}, "run": {"command": "true"}, "metric": {"name": "loss"}, "budget": budget}
    return spec_from_dict(data | {"params": {"x": {"low": 0.0, "high": 1.0}}}, root=root)


class _Study:
    """A real store, the archive the loop would keep of it, and the budget over both."""

    def __init__(self, root: Path, **budget: Any) -> None:
        self.store = Store(root / "study")
        self.archive = Archive(History("minimize"))
        self.budget = Budget(_spec(root, **budget), self.archive)

    def decide(self, decision: Decision, objective: float | None = None, *, cost: float = 0.0, **started: Any) -> str:
        """Record one experiment as the loop does (started, decided, added to the archive); returns
        why the study must stop now, or ""."""
        row = self.store.start_experiment(proposal={}, cost_usd=cost, **started)
        self.budget.started(cost)
        self.store.finish_experiment(row.id, decision=decision, objective=objective)
        self.archive.add(self.store.get(row.id))
        return self.budget.exhausted()


def test_a_failed_baseline_and_a_proposer_that_proposed_nothing_use_no_experiment_budget(tmp_path: Path) -> None:
    study = _Study(tmp_path, experiments=3)
    assert study.decide(Decision.FAILED, is_baseline=True) == ""
    assert study.decide(Decision.BASELINE, 2.0, is_baseline=True) == ""
    assert study.decide(Decision.REJECTED, extra={"proposer_failed": True}) == ""
    assert study.decide(Decision.KEPT, 1.0) == ""  # 4 rows, 2 of them free
    assert study.decide(Decision.REVERTED, 1.5) == "experiment budget reached (3)"
    assert (study.budget.rows, study.archive.failed_baselines, study.archive.proposer_failures) == (5, 1, 1)


def test_target_patience_and_spend_each_stop_the_study(tmp_path: Path) -> None:
    target = _Study(tmp_path / "target", target=0.5)
    assert target.decide(Decision.BASELINE, 2.0, is_baseline=True) == ""
    assert target.decide(Decision.KEPT, 0.4) == "target 0.5 reached"
    patience = _Study(tmp_path / "patience", patience=2)
    assert patience.decide(Decision.BASELINE, 2.0, is_baseline=True) == ""
    assert patience.decide(Decision.REVERTED, 3.0) == ""
    assert patience.decide(Decision.FAILED) == "no improvement in 2 experiments (patience)"
    spend = _Study(tmp_path / "spend", usd=0.05)
    assert spend.decide(Decision.BASELINE, 2.0, is_baseline=True, cost=0.0) == ""
    assert spend.decide(Decision.REVERTED, 3.0, cost=0.03) == ""
    assert spend.decide(Decision.REVERTED, 3.0, cost=0.03) == "spending budget reached ($0.05)"


def test_earlier_runs_count_and_the_time_used_is_saved(tmp_path: Path) -> None:
    study = _Study(tmp_path, hours=2, experiments=4)
    study.store.set_meta(ELAPSED, "7100")
    study.budget.resume(study.store, rows=3, spent=0.0)
    assert study.budget.exhausted() == ""
    assert study.decide(Decision.REVERTED, 1.0) == "experiment budget reached (4)"  # the store's 3 rows count
    study.budget.save(study.store)
    saved = float(study.store.get_meta(ELAPSED) or 0)
    assert 7100 <= saved < 7160  # earlier runs' time and this one's
    study.store.set_meta(ELAPSED, "7200")
    again = Budget(_spec(tmp_path, hours=2), study.archive)
    again.resume(study.store, rows=0, spent=0.0)
    assert again.exhausted() == "time budget reached (2 h)"
