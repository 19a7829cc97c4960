"""Reading what a finished job produced: its metric, its error, its feedback and curves.

A job's executor has put its logs and the files it wrote where the job named them (executor.py); these
read them as they read a local run's, without following a link a run planted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.execute import feedback
from autoresearch.execute.metrics import measure, objectives_unreadable
from autoresearch.execute.process import RunResult, read_tail
from autoresearch.execute.prune import recorded_curve
from autoresearch.spec import HoldoutSection, MetricSection, Spec


def metrics_file(cwd: Path, metric: MetricSection | HoldoutSection) -> tuple[Path, ...]:
    """The metrics JSON a run in CWD writes for METRIC (`json = "path:key"`), to be read back; or none."""
    if metric.json_file is None:
        return ()
    return (cwd / metric.json_file.rpartition(":")[0],)


def read(
    spec: Spec,
    result: RunResult,
    cwd: Path,
    metric: MetricSection | HoldoutSection | None = None,
    timeout: float | None = None,
) -> Evaluation:
    """The evaluation RESULT amounts to: METRIC (default: the spec's) read from its stdout or its metrics
    file in CWD, or why there is none (the run failed, timed out, printed no metric)."""
    evaluation = Evaluation(exit_code=result.exit_code, duration=result.duration)
    output, replaced = stdout_of(spec, result)
    m = metric or spec.metric
    name = m.name if isinstance(m, MetricSection) else m.metric
    objective = m.objective if isinstance(m, MetricSection) else None
    measured = measure(
        output,
        metric=name,
        pattern=m.pattern,
        json_file=m.json_file,
        objective=objective,
        cwd=cwd,
        cut=result.stdout_cut,
        max_bytes=spec.run.max_log_size,
    )
    if replaced is not None:
        measured.error, measured.objective = replaced, None
    if metric is None and spec.metric.objectives and measured.error is None:  # each must be read, not only the first
        measured.error = objectives_unreadable(output, measured.metrics, list(spec.metric.objectives))
    evaluation.metrics = measured.metrics
    if measured.ambiguous:  # a curve is not; a counted value that does not follow from it is
        evaluation.extra["flags"] = list(measured.ambiguous.values())
    if result.error is not None:
        evaluation.error = result.error
    elif result.timed_out:
        evaluation.error = f"timed out after {timeout or spec.run.timeout:g}s"
    elif result.exit_code != 0:
        tail = read_tail(result.stderr_path, 300).strip().splitlines()
        evaluation.error = f"exit code {result.exit_code}" + (f": {tail[-1]}" if tail else "")
    elif measured.error is not None:
        evaluation.error = measured.error
    else:
        evaluation.objective = measured.objective
    if evaluation.error is not None and result.sandbox_cause:
        evaluation.error += f"; {result.sandbox_cause}"
    return evaluation


def stdout_of(spec: Spec, result: RunResult) -> tuple[str, str | None]:
    """The run's stdout log, read no further than the cap it was written under (plus the cap's
    note); with why it cannot be read when it is larger (a run replaced it: `none` lets it)."""
    try:
        data = safeio.read_capped(result.stdout_path, spec.root, spec.run.max_log_size + 4096)
    except safeio.TooLarge:
        return "", f"metric unreadable: {result.stdout_path.name} is larger than autoresearch wrote it"
    except (OSError, safeio.UnsafePath):
        return "", None
    return data.decode(errors="replace"), None


def observe(spec: Spec, run: RunResult, output_dir: Path, scorer_lines: list[str]) -> dict[str, Any]:
    """The run's feedback text and metric curves, for proposers (bounded; holdout lines dropped)."""
    redactor = feedback.Redactor(spec.holdout.metric if spec.holdout else None)
    output, _ = stdout_of(spec, run)
    text = feedback.join_feedback(
        [
            ("run", feedback.feedback_lines(output, redactor)),
            (feedback.FEEDBACK_FILE, feedback.read_feedback_file(output_dir, spec.root, redactor)),
            ("scorer", scorer_lines),
        ]
    )
    found: dict[str, Any] = {}
    if text:
        found["feedback"] = text
    curves = feedback.metric_series(output, redactor)
    if curves:
        found["series"] = curves
    if spec.prune is not None and not run.stdout_cut:  # a cut log loses steps: no curve to compare with
        metric = spec.prune.metric_name(spec.metric.name)
        curve = recorded_curve(output, metric) if redactor.allows(metric) else []
        if curve:
            found["prune_curve"] = curve
    return found
