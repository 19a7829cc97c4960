"""Seeing the research: progress.png, the HTML/Markdown report, the live dashboard, MLflow export.

Imports are lazy so that `import autoresearch.ui.report` costs nothing until a view is asked for
(matplotlib and plotly are optional extras).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "plot_progress": "autoresearch.ui.report.progress_plot",
    "summarize": "autoresearch.ui.report.summary",
    "summarize_spec": "autoresearch.ui.report.summary",
    "Summary": "autoresearch.ui.report.summary",
    "write_report": "autoresearch.ui.report.html",
    "serve": "autoresearch.ui.dashboard.server",
    "DashboardError": "autoresearch.ui.dashboard.server",
    "export_mlflow": "autoresearch.ui.report.mlflow_export",
    "MlflowExportError": "autoresearch.ui.report.mlflow_export",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'autoresearch.ui.report' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
