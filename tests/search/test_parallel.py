"""With several workers, the candidates running at the same time are given different parents."""

from __future__ import annotations

import itertools
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop
from autoresearch.search.archive import Archive
from autoresearch.search.tree import TreePolicy
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.store.history import History
from tests.conftest import BOWL, bowl_spec, write_study


def test_parallel_workers_improve_different_nodes(tmp_path: Path) -> None:
    extra = '[search]\npolicy = "tree"\n[search.tree]\ndrafts = 3\ndebug_probability = 0.0'
    root = write_study(tmp_path / "bowl", bowl_spec(budget=16, proposer="random", extra=extra), {"bowl.py": BOWL})
    spec = load_spec(root)
    Loop(spec, workers=3).run()
    store = Store(spec.study_dir, create=False)
    rows = [e for e in store.experiments() if e.extra.get("search", {}).get("task") == "improve"]
    store.close()
    overlapping = [
        (a, b)
        for a, b in itertools.combinations(rows, 2)
        if a.created_at < (b.finished_at or 0) and b.created_at < (a.finished_at or 0)
    ]
    assert len(overlapping) >= 3  # three workers: improvements did run side by side
    assert all(a.parent_id != b.parent_id for a, b in overlapping)


def node(experiment_id: int, parent: int | None, decision: str, objective: float | None, task: str) -> Experiment:
    return Experiment(
        id=experiment_id,
        status="done",
        proposal={},
        created_at=float(experiment_id),
        finished_at=float(experiment_id),
        parent_id=parent,
        decision=decision,
        objective=objective,
        params={"x": float(experiment_id)},
        extra={"search": {"task": task}} if task else {},
        is_baseline=not task,
        became_best=decision in ("baseline", "kept"),  # one chain: each keep became the global best
    )


def test_a_failed_leaf_being_debugged_is_not_given_to_a_second_worker(tmp_path: Path) -> None:
    extra = '[search]\npolicy = "tree"\n[search.tree]\ndrafts = 3\ndebug_probability = 1.0'
    spec = load_spec(write_study(tmp_path / "bowl", bowl_spec(extra=extra), {"bowl.py": BOWL}))
    archive = Archive(History("minimize"))
    policy = TreePolicy(spec, archive)
    for experiment in (
        node(1, None, "baseline", 5.0, ""),
        node(2, 1, "failed", None, "draft"),
        node(3, 1, "kept", 4.0, "draft"),
        node(4, 1, "failed", None, "draft"),
    ):
        policy.observe(archive.add(experiment))
    first = policy.choose([])
    assert first.task == "debug" and first.parent is not None and first.parent.id in (2, 4)
    running = node(5, first.parent.id, "failed", None, "debug")
    running.status, running.decision = "running", None
    second = policy.choose([running])
    assert second.task == "debug" and second.parent is not None and {first.parent.id, second.parent.id} == {2, 4}
    running_too = node(6, second.parent.id, "failed", None, "debug")
    running_too.status, running_too.decision = "running", None
    third = policy.choose([running, running_too])  # both failed leaves taken: improve the best instead
    assert third.task == "improve" and third.parent is not None and third.parent.id == 3
