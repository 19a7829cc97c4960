"""Change detection on resume: formatting is no change, and each real one is named."""

from __future__ import annotations

from pathlib import Path

from autoresearch.spec import (
    is_budget_key,
    is_measurement_key,
    listed_changes,
    spec_change_line,
    spec_changes,
    spec_from_dict,
)
from autoresearch.store.database import Store
from tests.spec.conftest import with_


def test_a_spec_snapshot_ignores_formatting_and_names_real_changes() -> None:
    before = spec_from_dict(with_("run", timeout="5m")).source
    same = spec_from_dict(with_("run", timeout="300s")).source
    after = spec_from_dict(with_("run", timeout="1h")).source
    assert before is not None and same is not None and after is not None
    assert before.hash == same.hash and before.hash != after.hash
    assert after.changes(before) == [("run.timeout", '"5m"', '"1h"')]


def test_changes_against_the_store_and_which_keys_matter(tmp_path: Path) -> None:
    ran = spec_from_dict(with_("run", timeout="5m"))
    assert ran.source is not None
    store = Store(tmp_path / "study")
    try:
        store.set_meta("spec_snapshot", ran.source.model_dump_json())  # as the loop records it
        store.set_meta("spec_hash", ran.source.hash)
        assert spec_changes(spec_from_dict(with_("run", timeout="300s")), store) == []
        budget = spec_from_dict({**with_("run", timeout="5m"), "budget": {"experiments": 50}})
        assert spec_changes(budget, store) == [("budget.experiments", "null", "50")]
        assert spec_change_line(budget, store) == ""  # raising the budget is routine: `run` takes it
        command = spec_from_dict({**with_("run", timeout="5m", command="make bench"), "budget": {"experiments": 50}})
        assert spec_change_line(command, store) == (
            'the spec changed since the last run (run.command: "true" -> "make bench"); `run` will ask you to accept it'
        )
    finally:
        store.close()
    assert (
        is_measurement_key("run.command")
        and is_measurement_key("params.x.low")
        and not is_measurement_key("run.workers")
    )
    assert is_budget_key("budget.hours") and not is_budget_key("budgets")
    changes = [(f"k{i}", "1", "2") for i in range(5)]
    assert listed_changes(changes, limit=2) == "k0: 1 -> 2; k1: 1 -> 2; and 3 more"
