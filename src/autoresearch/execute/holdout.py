"""The holdout's number from a process the candidate never runs in (`[holdout] scorer`).

The holdout command runs candidate code with the holdout's inputs mounted, so whatever it prints could
be faked. With `holdout.scorer`, what it prints is ignored: it writes predictions to its output folder,
and the scorer (the user's command, in the spec's own folder, read-only) computes the holdout metric
from them, the only process shown `holdout.scorer_data` (the labels). Like `[scorer]` for the search
metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.execute import consumed, sandbox
from autoresearch.execute.process import RunResult
from autoresearch.materialise.params import render_command

if TYPE_CHECKING:
    from autoresearch.execute.evaluate import CommandEvaluator


def score_holdout(
    evaluator: CommandEvaluator,
    run: RunResult,
    *,
    log_dir: Path,
    output_dir: Path,
    values: dict[str, Any],
    env: dict[str, str],
) -> Evaluation:
    """The holdout metric as the scorer computes it from what the holdout RUN wrote to OUTPUT_DIR."""
    holdout = evaluator.spec.holdout
    assert holdout is not None and holdout.scorer is not None
    if not run.succeeded:
        why = run.error or ("timed out" if run.timed_out else f"exit code {run.exit_code}")
        return Evaluation(error=f"the holdout run failed ({why}); nothing to score")
    home = evaluator.spec.root.resolve()
    # The holdout run was candidate code: what it left where the scorer runs is refused, and the scorer
    # reads a copy of its plain files only, as `[scorer]` does (run/consumed.py).
    hooks = evaluator.hooks
    refused = hooks.refuse(evaluator.spec.root, evaluator.anchor) if hooks is not None else None
    if refused is not None:
        return Evaluation(error=f"the holdout scorer was not run: {refused}")
    try:
        given = consumed.copy_output(output_dir, log_dir / "scorer.input", evaluator.anchor)
    except (OSError, safeio.UnsafePath) as exc:
        return Evaluation(error=f"the holdout's output could not be passed to its scorer: {exc}")
    view = sandbox.View(home, readable=(given.path,), reveal=tuple(holdout.scorer_data), read_only_root=True)
    isolated = consumed.ISOLATED_PYTHON if evaluator.spec.code is None else {}
    try:
        result = evaluator.launch(
            render_command(holdout.scorer, values | {"output_dir": str(given.path)}),
            cwd=home / evaluator.spec.run.cwd,
            env=env | isolated | {"AUTORESEARCH_OUTPUT_DIR": str(given.path)},
            timeout=holdout.timeout,
            logs=log_dir,
            view=view,
            stem="scorer.",
        )
    finally:
        consumed.remove(given, evaluator.anchor)
    evaluation = evaluator.read(result, home, metric=holdout, timeout=holdout.timeout)
    if evaluation.error is not None:
        evaluation.error = f"the holdout scorer failed ({evaluation.error}); see holdout/scorer.stderr.log"
    return evaluation
