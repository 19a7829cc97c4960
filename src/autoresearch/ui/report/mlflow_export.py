"""Export a study to MLflow: one run per experiment, in a local file-based tracking directory.

Optional (`pip install autoresearch[mlflow]`, which pulls `mlflow-skinny`). Re-exporting is
incremental: experiments already exported (tagged with their autoresearch id) are skipped.
"""

from __future__ import annotations

import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.core.experiment import Decision
from autoresearch.spec import Spec
from autoresearch.store.database import Store
from autoresearch.ui.report.escape import md_fence

ID_TAG = "autoresearch.experiment_id"
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")  # MLflow's allowed characters in param and metric names


class MlflowExportError(Exception):
    """MLflow is missing or refused the export; the message says what to do."""


@dataclass
class MlflowExport:
    tracking_uri: str
    experiment_id: str
    exported: int
    skipped: int


@contextmanager
def _allow_file_store() -> Any:
    # MLflow 3 puts the file store in "maintenance mode" and refuses it unless opted in; a plain
    # folder is what a user can open with `mlflow ui --backend-store-uri` without a database.
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


def _key(name: str) -> str:
    return _KEY.sub("_", str(name))[:250]


def export_mlflow(spec: Spec, store: Store, tracking_dir: Path, *, experiment_name: str | None = None) -> MlflowExport:
    """Write every finished experiment of the study as an MLflow run under TRACKING_DIR."""
    try:  # optional and heavy: only for `export --format mlflow`
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MlflowExportError(
            "MLflow export needs the mlflow package: pip install 'autoresearch[mlflow]' (or mlflow-skinny)"
        ) from None

    tracking_dir = Path(tracking_dir).resolve()
    tracking_dir.mkdir(parents=True, exist_ok=True)
    uri = tracking_dir.as_uri()
    name = experiment_name or spec.name
    with _allow_file_store():
        client = MlflowClient(tracking_uri=uri)
        existing = client.get_experiment_by_name(name)
        experiment_id = (
            existing.experiment_id
            if existing
            else client.create_experiment(
                name, tags={"autoresearch.core.direction": spec.study.direction, "autoresearch.mode": spec.mode}
            )
        )
        done: set[str] = set()
        if existing:
            for run in client.search_runs([experiment_id], max_results=50_000):
                if ID_TAG in run.data.tags:
                    done.add(run.data.tags[ID_TAG])
        exported = skipped = 0
        for e in store.experiments(status="done"):
            if str(e.id) in done:
                skipped += 1
                continue
            tags = {
                ID_TAG: str(e.id),
                "autoresearch.decision": e.decision or "",
                "autoresearch.reason": (e.reason or "")[:5000],
                "autoresearch.strategy": e.strategy or "",
                "autoresearch.proposer": e.proposer or "",
                "autoresearch.parent_id": "" if e.parent_id is None else str(e.parent_id),
                # MLflow's UI renders the note as Markdown: the rationale goes in as a code block, as text.
                "mlflow.note.content": "\n".join(md_fence(e.rationale)) if e.rationale else "",
            }
            if e.commit_sha:
                tags["autoresearch.commit"] = e.commit_sha
            start_ms = int((e.started_at or e.created_at) * 1000)
            end_ms = int((e.finished_at or e.started_at or e.created_at) * 1000)
            run = client.create_run(
                experiment_id,
                start_time=start_ms,
                run_name=f"{e.id:05d}-{e.decision}",
                tags={k: v for k, v in tags.items() if v != ""},
            )
            params = [Param(_key(k), str(v)[:6000]) for k, v in (e.params or {}).items()]
            values: dict[str, Any] = dict(e.metrics)
            values["objective"] = e.objective
            values.update({f"holdout.{k}": v for k, v in (e.holdout or {}).items()})
            values.update(
                {
                    "duration_s": e.duration,
                    "cost_usd": e.cost_usd,
                    "tokens_in": e.tokens_in,
                    "tokens_out": e.tokens_out,
                }
            )
            metrics = [
                Metric(_key(k), float(v), end_ms, 0)
                for k, v in values.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            ]
            client.log_batch(
                run.info.run_id,
                metrics=metrics,
                params=params,
                tags=[RunTag("autoresearch.engine.study", spec.name)],
            )
            if e.diff:
                client.log_text(run.info.run_id, e.diff, "diff.patch")
            status = "FAILED" if e.decision == Decision.FAILED else "FINISHED"
            client.set_terminated(run.info.run_id, status=status, end_time=end_ms)
            exported += 1
    return MlflowExport(uri, experiment_id, exported, skipped)
