"""Flat cost per experiment, asserted by counting work, never by timing it.

A real study (`echo`, the `random` sampler, SQLite) runs 110 experiments; the work done for
experiments 20-30 and for experiments 100-110 is counted and must be the same: deep copies, experiment
objects built, and store statements. A step that rescans the history would count ten times more in
the second window.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop, Outcome
from autoresearch.propose.base import Context
from autoresearch.spec import spec_from_dict
from autoresearch.store.history import History

# Store statements whose cost does not grow with the study: by primary key, inserts, meta, transactions.
# (The trace shows statements with their values bound.)
FLAT_SQL = re.compile(
    r"^(BEGIN IMMEDIATE|COMMIT|ROLLBACK|INSERT INTO experiments .*|UPDATE experiments SET .* WHERE id=\d+"
    r"|SELECT \* FROM experiments WHERE id=\d+|INSERT OR REPLACE INTO meta .*|SELECT value FROM meta WHERE key='\w+'"
    r"|PRAGMA data_version)$",  # the loop's O(1) check that no other process wrote the store
    re.DOTALL,
)


class _Counting:
    """An observer that counts deep copies, Experiment objects and SQL statements between two marks."""

    def __init__(self, marks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
        self.marks = marks
        self.windows: list[Counter[str]] = []
        self.sql: list[str] = []
        self.live: Counter[str] = Counter()
        deepcopy, init = copy.deepcopy, Experiment.__init__

        def counted_deepcopy(x: Any, *args: Any, **kwargs: Any) -> Any:
            # Deep copies recurse inside the copy module, unseen here: count a list's items instead.
            self.live["deep-copied objects"] += len(x) if isinstance(x, list | tuple | dict) else 1
            return deepcopy(x, *args, **kwargs)

        def counted_init(experiment: Experiment, *args: Any, **kwargs: Any) -> None:
            self.live["experiments built"] += 1
            init(experiment, *args, **kwargs)

        monkeypatch.setattr(copy, "deepcopy", counted_deepcopy)
        monkeypatch.setattr(Experiment, "__init__", counted_init)

    def _statement(self, sql: str) -> None:
        self.live["statements"] += 1
        self.sql.append(" ".join(sql.split()))

    def started(self, loop: Loop) -> None:
        loop.store._db.set_trace_callback(self._statement)

    def finished(self, loop: Loop, experiment: Experiment) -> None:
        done = len(loop.history)
        if done in self.marks[1::2]:  # a window ends
            self.windows.append(self.live)
        if done in self.marks:
            self.live = Counter()
        if done == self.marks[0]:  # statements from here on are the steady state's
            self.sql = []

    def stopped(self, loop: Loop, outcome: Outcome) -> None:
        loop.store._db.set_trace_callback(None)


def test_work_per_experiment_does_not_grow_with_the_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_from_dict(
        {
            "study": {"name": "flat"},
            "run": {"command": "echo loss={x}"},
            "metric": {"name": "loss"},
            "params": {"x": {"low": -5.0, "high": 5.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": 112},
        },
        root=tmp_path,
    )
    counting = _Counting([20, 30, 100, 110], monkeypatch)
    Loop(spec, observer=counting).run()
    early, late = counting.windows
    assert early["statements"] > 0 and early == late, (early, late)
    # A few small deep copies per experiment (Optuna copies a new trial's template), never of the
    # trial list, as `study.trials` would: 100 trials per ask in the second window.
    assert late["deep-copied objects"] <= 10 * 10
    # Each statement the loop makes per experiment is by id, an insert or a meta row: none scans.
    scans = [sql for sql in counting.sql if not FLAT_SQL.match(sql)]
    assert counting.sql and not scans, scans


def _experiment(i: int, holdout: dict[str, Any] | None = None) -> Experiment:
    decision = ("reverted", "failed", "kept")[i % 3]
    return Experiment(
        id=i,
        status="done",
        proposal={},
        created_at=0.0,
        decision=decision,
        objective=None if decision == "failed" else float(i % 7),
        params={"x": float(i)},
        holdout=holdout,
        became_best=decision == "kept",  # one chain: each keep became the global best
    )


def test_context_shares_the_history_and_copies_no_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_from_dict(
        {
            "study": {"name": "view"},
            "run": {"command": "true"},
            "metric": {"name": "loss"},
            "params": {"x": {"low": 0.0, "high": 1.0}},
            "holdout": {"command": "true", "metric": "acc"},
        },
        root=tmp_path,
    )
    history = History("minimize", [_experiment(i, holdout={"acc": 0.9}) for i in range(1, 500)])
    assert all(e.holdout is None for e in history)  # stripped once, on the way in
    built = Counter[str]()
    init = Experiment.__init__

    def counted_init(experiment: Experiment, *args: Any, **kwargs: Any) -> None:
        built["experiments"] += 1
        init(experiment, *args, **kwargs)

    monkeypatch.setattr(Experiment, "__init__", counted_init)
    contexts = [Context(spec, history, history[-1]) for _ in range(5)]
    assert built["experiments"] == 0
    assert all(c.history is history for c in contexts)
    # A read-only view: proposers get no way to add, remove or reorder what the loop recorded.
    assert not hasattr(history, "append") and not hasattr(history.ranked(), "append")
    with pytest.raises(TypeError):
        history[0] = history[1]  # type: ignore[index]


def test_history_indexes_agree_with_a_full_scan() -> None:
    experiments = [_experiment(i) for i in range(1, 301)]
    history = History("minimize", experiments)
    measured = [e for e in experiments if e.ok and e.objective is not None]
    assert [e.id for e in history.ranked()] == [e.id for e in sorted(measured, key=lambda e: e.objective or 0.0)]
    assert [e.id for e in history.failures()] == [e.id for e in experiments if e.decision == "failed"]
    assert dict(history.counts) == dict(Counter(e.decision for e in experiments))
    import statistics

    n, std = history.objective_spread()
    assert n == len(measured) and std == pytest.approx(statistics.stdev(e.objective or 0.0 for e in measured))
    assert history.with_params({"x": 7.0}) is history.get(7)
    assert history.tally.since_improvement == 1 and history.tally.best is history.get(299)


def test_status_figures_from_aggregate_queries_match_a_pass_over_the_rows(tmp_path: Path) -> None:
    from autoresearch.engine.judge import strict_kept
    from autoresearch.store.history import Tally
    from tests.support.synthetic import make_study

    store = make_study(tmp_path / "study", 300, seed=3)
    try:
        rows = store.experiments()
        # Flags, strict-rule verdicts and a running row, which the synthetic study lacks.
        for row in rows[10:40:3]:
            store.update(row.id, extra={**row.extra, "flags": ["seed ignored"], "strict_keep": row.id % 2 == 0})
        store.update(rows[-1].id, status="running", decision=None)
        rows = store.experiments()
        scanned = Tally()
        for row in rows:
            scanned.add(row)
        queried = Tally.of_store(store)
        assert queried.counts == scanned.counts and queried.cost == pytest.approx(scanned.cost)
        assert queried.baseline and scanned.baseline and queried.baseline.id == scanned.baseline.id
        assert queried.best and scanned.best and queried.best.id == scanned.best.id
        assert queried.since_improvement == scanned.since_improvement > 0
        assert store.strict_keep_counts() == (10, strict_kept(rows))
        assert store.count_flagged() == sum(1 for row in rows if row.extra.get("flags")) == 10
    finally:
        store.close()


@pytest.mark.parametrize("size", [100, 10_000])
def test_what_the_runs_reported_reads_the_same_few_files_at_any_size(
    size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prompt's run materials and an agent's history.json read a fixed number of experiments and files."""
    from autoresearch.core import safeio
    from autoresearch.propose.materials import bounded_selection
    from autoresearch.propose.prompt import HistoryLimits, format_runs

    curve = {"n": 100, "values": [3.0, 2.0, 1.0], "min": 1.0, "argmin": 1.0}
    history = History("minimize")
    for i in range(1, size + 1):
        decision = "baseline" if i == 1 else ("failed" if i % 3 == 0 else ("kept" if i % 50 == 0 else "reverted"))
        folder = tmp_path / f"{i:05d}"
        history.add(
            Experiment(
                id=i,
                status="done",
                proposal={},
                created_at=0.0,
                decision=decision,
                objective=None if decision == "failed" else 1000.0 - i,
                reason="boom" if decision == "failed" else None,
                log_dir=str(folder),
                extra={"feedback": f"feedback {i}", "series": {"loss": curve}},
                became_best=decision in ("baseline", "kept"),
            )
        )
    for exp in (history.tally.best, *history.failures()[-2:]):
        assert exp is not None and exp.log_dir is not None
        Path(exp.log_dir).mkdir()
        (Path(exp.log_dir) / "stdout.log").write_text(f"log of {exp.id}\n" * 1000)
    opened: list[Path] = []
    real = safeio.open_read

    def counting(path: Path, anchor: Path) -> int:
        opened.append(path)
        return real(path, anchor)

    monkeypatch.setattr(safeio, "open_read", counting)
    text = format_runs(history, history.tally.best, tmp_path, HistoryLimits())
    assert len(opened) == 6  # stdout.log and stderr.log of the incumbent and of two failures
    assert f"log of {size - size % 50}" in text and "loss: 100 values" in text
    assert len(bounded_selection(history)) <= 240
