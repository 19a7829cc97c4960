"""MLflow export: one run per finished experiment, with params, metrics, decision tags and the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoresearch.ui.report.mlflow_export import ID_TAG, export_mlflow
from tests.support.synthetic import make_study
from tests.ui.conftest import make_spec

mlflow = pytest.importorskip("mlflow")


@pytest.mark.parametrize("mode", ["params", "code"])
def test_export_one_run_per_experiment(tmp_path: Path, mode: str) -> None:
    spec = make_spec(tmp_path, mode=mode)
    store = make_study(spec.study_dir, 25, mode=mode, seed=7, logs=False)
    planted = store.experiments()[1].id  # MLflow's UI renders the note as Markdown: HTML must stay text
    store.update(planted, rationale="<img src=x onerror=alert(1)> [x](http://evil.example/)\n```\n<script>")
    result = export_mlflow(spec, store, tmp_path / "mlruns")
    assert (result.exported, result.skipped) == (25, 0)
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the opt-in does not leak into the caller

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        client = mlflow.tracking.MlflowClient(tracking_uri=result.tracking_uri)
        runs = {r.data.tags[ID_TAG]: r for r in client.search_runs([result.experiment_id], max_results=100)}
        assert len(runs) == 25
        for e in store.experiments():
            run = runs[str(e.id)]
            assert run.data.tags["autoresearch.decision"] == e.decision
            note = run.data.tags.get("mlflow.note.content", "")
            fence = "````" if e.id == planted else "```"  # longer than any fence inside the rationale
            assert note == (f"{fence}text\n{e.rationale}\n{fence}" if e.rationale else "")
            if e.objective is not None:
                assert run.data.metrics["objective"] == pytest.approx(e.objective)
                assert run.data.metrics["val_loss"] == pytest.approx(e.metrics["val_loss"])
            if mode == "params":
                assert run.data.params["hidden"] == str(e.params["hidden"])  # type: ignore[index]
            else:
                artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
                assert artifacts == ["diff.patch"]
                local = client.download_artifacts(run.info.run_id, "diff.patch", str(tmp_path / f"dl{e.id}"))
                assert Path(local).read_text() == e.diff
            if e.holdout:
                assert run.data.metrics["holdout.val_loss"] == pytest.approx(e.holdout["val_loss"])
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)

    # Incremental: a second export adds only what is new.
    from tests.support.synthetic import SyntheticWriter

    SyntheticWriter(store, mode=mode, seed=8, logs=False).step()
    again = export_mlflow(spec, store, tmp_path / "mlruns")
    assert (again.exported, again.skipped, again.experiment_id) == (1, 25, result.experiment_id)
