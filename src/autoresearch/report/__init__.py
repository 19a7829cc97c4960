"""Seeing the research: progress.png, the HTML/Markdown report, the live dashboard, MLflow export.

Imports are lazy so that `import autoresearch.report` costs nothing until a view is asked for
(matplotlib and plotly are optional extras).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "plot_progress": "autoresearch.report.progress",
    "summarize": "autoresearch.report.summary",
    "summarize_spec": "autoresearch.report.summary",
    "Summary": "autoresearch.report.summary",
    "write_report": "autoresearch.report.html",
    "serve": "autoresearch.report.dashboard",
    "DashboardError": "autoresearch.report.dashboard",
    "export_mlflow": "autoresearch.report.mlflow_export",
    "MlflowExportError": "autoresearch.report.mlflow_export",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'autoresearch.report' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
