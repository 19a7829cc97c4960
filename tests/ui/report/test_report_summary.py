"""The report's numbers against the store's own answers, on a few hundred synthetic experiments."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from autoresearch.spec import Spec
from autoresearch.store.database import DB_NAME, Store
from autoresearch.ui.report.html import write_report
from autoresearch.ui.report.markdown import fmt
from autoresearch.ui.report.summary import holdout_label, normalise_reason, summarize_spec
from tests.support.synthetic import make_study
from tests.ui.conftest import make_spec


def _sql(store: Store, query: str) -> list[tuple]:
    with sqlite3.connect(store.study_dir / DB_NAME) as db:
        return db.execute(query).fetchall()


def test_summary_matches_store(spec_params: Spec, study_300: Store) -> None:
    s = summarize_spec(spec_params, study_300.experiments())
    counts = study_300.counts_by_decision()
    assert s.total == study_300.count() == 300
    assert {d: n for d, n in s.counts.items() if n} == counts
    assert abs(s.cost_usd - study_300.total_cost()) < 1e-9
    ((baseline,),) = _sql(study_300, "SELECT objective FROM experiments WHERE decision='baseline'")
    ((best, best_id),) = _sql(
        study_300,
        "SELECT objective, id FROM experiments WHERE decision IN ('baseline','kept') ORDER BY objective LIMIT 1",
    )
    assert (s.baseline, s.best, s.best_id) == (baseline, best, best_id)
    assert s.improvement_abs == baseline - best
    assert abs(s.improvement_pct - 100 * (baseline - best) / baseline) < 1e-9  # type: ignore[operator]
    judged = 300 - counts["baseline"]
    assert s.keep_rate == counts["kept"] / judged
    ((tin, tout),) = _sql(study_300, "SELECT SUM(tokens_in), SUM(tokens_out) FROM experiments")
    assert (s.tokens_in, s.tokens_out) == (tin, tout)
    ((start, end, dur),) = _sql(study_300, "SELECT MIN(started_at), MAX(finished_at), SUM(duration) FROM experiments")
    assert abs(s.wall_s - (end - start)) < 1e-6 and abs(s.compute_s - dur) < 1e-6
    assert abs(s.experiments_per_hour - 300 / ((end - start) / 3600)) < 1e-6  # type: ignore[operator]

    kept_ids = [
        r[0] for r in _sql(study_300, "SELECT id FROM experiments WHERE decision IN ('baseline','kept') ORDER BY id")
    ]
    assert [step.id for step in s.chain] == kept_ids
    assert all(b.delta == b.objective - a.objective for a, b in zip(s.chain, s.chain[1:], strict=False))

    by_strategy = dict(
        _sql(
            study_300,
            "SELECT strategy, SUM(decision='kept') FROM experiments WHERE decision != 'baseline' GROUP BY strategy",
        )
    )
    assert {st.strategy: st.kept for st in s.strategies} == by_strategy
    assert sum(st.total for st in s.strategies) == judged
    assert sum(f.count for f in s.failure_reasons) == counts.get("failed", 0) + counts.get("rejected", 0)


def test_report_files_show_the_store_numbers(spec_params: Spec, study_300: Store) -> None:
    html_path, md_path = write_report(spec_params, study_300)
    assert html_path == spec_params.study_dir / "report" / "report.html"
    assert (md_path.parent / "progress.png").stat().st_size > 10_000
    s = summarize_spec(spec_params, study_300.experiments())
    md, page = md_path.read_text(), html_path.read_text()
    for text in (md, page):
        assert f"{fmt(s.best)} (#{s.best_id})" in text
        assert f"{fmt(s.baseline)} (#{s.baseline_id})" in text
        assert f"kept {s.counts['kept']}" in text and f"reverted {s.counts['reverted']}" in text
        assert f"${s.cost_usd:.4f}" in text
        assert "DIVERGENCE" in text  # the fixture's holdout diverges after 2 kept changes
    assert "![progress](progress.png)" in md
    assert "## Parameter importance" in md and "| lr |" in md


def test_holdout_divergence_only_when_it_happens(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    s = summarize_spec(spec, make_study(spec.study_dir, 200, seed=1, logs=False).experiments())
    assert s.holdout is not None and len(s.holdout.points) == len(s.chain)
    assert not s.holdout.diverged and not s.holdout.diverging_steps
    spec2 = make_spec(tmp_path / "b")
    s2 = summarize_spec(spec2, make_study(spec2.study_dir, 200, seed=1, logs=False, diverge_after=2).experiments())
    assert s2.holdout is not None and s2.holdout.diverged
    assert s2.holdout.diverging_steps == [p.id for p in s2.holdout.points[3:]]


def test_param_importance_finds_the_parameter_that_matters(spec_params: Spec, study_300: Store) -> None:
    s = summarize_spec(spec_params, study_300.experiments())
    assert s.param_importances is not None, s.importance_error
    assert max(s.param_importances, key=s.param_importances.__getitem__) == "lr"
    assert set(s.slices) == {"lr", "hidden", "dropout", "layers"}
    assert len(s.slices["lr"]) == sum(1 for e in study_300.experiments() if e.ok)


def test_param_importance_degrades_gracefully(tmp_path: Path) -> None:
    # A spec whose space no longer contains the recorded values: no importances, a reason, no crash.
    data_spec = make_spec(tmp_path)
    store = make_study(data_spec.study_dir, 30, logs=False)
    from autoresearch.spec import spec_from_dict

    narrowed = spec_from_dict(
        {
            "study": {"name": "synthetic"},
            "run": {"command": "x"},
            "metric": {"name": "val_loss"},
            "params": {"hidden": {"choices": [7]}},
        },
        root=tmp_path,
    )
    s = summarize_spec(narrowed, store.experiments())
    assert s.param_importances is None
    assert s.importance_error and "at least 3" in s.importance_error
    _, md = write_report(narrowed, store, tmp_path / "out")
    assert "Not available: needs at least 3" in md.read_text()


def test_maximize_and_code_mode(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, mode="code", direction="maximize")
    store = make_study(spec.study_dir, 120, mode="code", direction="maximize", logs=False)
    s = summarize_spec(spec, store.experiments())
    assert s.best is not None and s.baseline is not None and s.best > s.baseline
    assert s.improvement_abs == s.best - s.baseline > 0
    assert s.param_importances is None and not s.slices  # code mode: no search space
    (spec.study_dir / "lessons.md").write_text("- lowering lr helps\n")
    html_path, md_path = write_report(spec, store)
    md = md_path.read_text()
    assert "## Chain of kept changes" in md and "```diff\n--- a/train.py" in md
    assert "## Lessons" in md and "lowering lr helps" in md
    assert "Parameter importance" not in md
    assert "<details><summary>diff</summary>" in html_path.read_text()


def test_normalise_reason_groups_variants() -> None:
    assert normalise_reason("timeout after 301s") == normalise_reason("timeout after 299s")
    assert normalise_reason("exit code 1: /tmp/x/train.py line 3") == "exit code <n>: <path> line <n>"
    assert normalise_reason(None) == "(no reason recorded)"


def test_holdout_named_with_its_prefix_is_said_once_and_no_llm_no_spend(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    store = Store(spec.study_dir)
    store.set_meta("direction", "minimize")
    for decision, objective, holdout in [("baseline", 1.0, 0.9), ("kept", 0.5, 0.4), ("kept", 0.3, 0.45)]:
        row = store.start_experiment(proposal={"params": {}})
        store.finish_experiment(row.id, decision=decision, objective=objective, holdout={"holdout_sharpe": holdout})
    s = summarize_spec(spec, store.experiments())
    assert s.holdout is not None and s.holdout.metric == "holdout_sharpe"
    assert "holdout_sharpe got worse" in s.holdout.message and "holdout holdout" not in s.holdout.message
    assert holdout_label("acc") == "holdout acc"
    html_path, md_path = write_report(spec, store)
    markdown, page = md_path.read_text(), html_path.read_text()
    assert "holdout holdout" not in markdown and "holdout holdout" not in page
    assert "LLM spend" not in markdown and "LLM spend" not in page  # no experiment used an LLM
    store.close()
    # A study whose proposer is an LLM reports its spend.
    spec2 = make_spec(tmp_path / "b")
    _, md2 = write_report(spec2, make_study(spec2.study_dir, 20, seed=1, logs=False))
    assert "LLM spend" in md2.read_text()
