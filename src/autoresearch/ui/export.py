"""`autoresearch export`: results.tsv with karpathy/autoresearch's columns first, or csv/json/jsonl."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from autoresearch.core.experiment import Decision, Experiment
from autoresearch.engine.paired import Confirmation
from autoresearch.spec import Spec
from autoresearch.ui.report.escape import spreadsheet_cell

# karpathy/autoresearch's results.tsv statuses.
_STATUS: dict[str, str] = {
    Decision.BASELINE: "keep",
    Decision.KEPT: "keep",
    Decision.REVERTED: "discard",
    Decision.REJECTED: "discard",
    Decision.FAILED: "crash",
    Decision.PRUNED: "discard",
}


def export_rows(
    spec: Spec, experiments: list[Experiment], confirmation: Confirmation | None = None
) -> list[dict[str, Any]]:
    """One row per experiment. With a confirmation, the confirmed best's row also carries the
    improvement over the baseline as the search selected it and as re-measured on interleaved pairs
    (fractions of the baseline; the confirmed one with its 95% interval)."""
    rows = []
    for e in experiments:
        memory_gb = e.metrics.get("memory_gb")
        if memory_gb is None and "peak_vram_mb" in e.metrics:
            memory_gb = e.metrics["peak_vram_mb"] / 1024
        rows.append(
            {
                "commit": (e.commit_sha or "")[:7] or f"exp{e.id}",
                spec.metric.name: e.metrics.get(spec.metric.name, ""),
                "memory_gb": f"{memory_gb:.1f}" if memory_gb is not None else "0.0",
                "status": _STATUS.get(e.decision or "", "running"),
                "description": (e.rationale or "").replace("\t", " ").replace("\n", " "),
                "id": e.id,
                "parent_id": e.parent_id if e.parent_id is not None else "",
                "decision": e.decision or "running",
                "reason": (e.reason or "").replace("\t", " ").replace("\n", " "),
                "objective": e.objective if e.objective is not None else "",
                "proposer": e.proposer or "",
                "strategy": e.strategy or "",
                "params": json.dumps(e.params, sort_keys=True) if e.params is not None else "",
                "metrics": json.dumps(e.metrics, sort_keys=True),
                "duration_s": f"{e.duration:.3f}" if e.duration is not None else "",
                "cost_usd": e.cost_usd if e.cost_usd is not None else "",
                "started_at": e.started_at or "",
            }
        )
        if confirmation is not None:
            mine = e.id == confirmation.best_id
            rows[-1] |= {
                "selected_improvement": f"{confirmation.selected:.6g}" if mine else "",
                "confirmed_improvement": f"{confirmation.improvement:.6g}" if mine else "",
                "confirmed_low": f"{confirmation.low:.6g}" if mine else "",
                "confirmed_high": f"{confirmation.high:.6g}" if mine else "",
                "confirmed_pairs": confirmation.pairs if mine else "",
            }
    return rows


def write_export(
    spec: Spec, experiments: list[Experiment], path: Path, fmt: str, confirmation: Confirmation | None = None
) -> int:
    rows = export_rows(spec, experiments, confirmation)
    columns = list(rows[0]) if rows else ["commit", spec.metric.name, "memory_gb", "status", "description"]
    if fmt == "tsv":
        # Plain tab-separated lines, as karpathy/autoresearch writes them (no quoting); a text cell that a
        # spreadsheet would read as a formula starts with an apostrophe.
        lines = ["\t".join(str(spreadsheet_cell(" ".join(c.split()))) for c in columns)]
        lines += ["\t".join(str(spreadsheet_cell(" ".join(str(row[c]).split()))) for c in columns) for row in rows]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "csv":
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([spreadsheet_cell(c) for c in columns])
            writer.writerows([spreadsheet_cell(row[c]) for c in columns] for row in rows)
    elif fmt == "json":
        path.write_text(json.dumps(rows, indent=2) + "\n")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return len(rows)
