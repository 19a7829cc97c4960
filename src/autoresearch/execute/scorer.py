"""`[scorer]`: the number that counts, computed by the user's command from what the run wrote.

The scorer runs in the spec's own folder (the user's files, not the candidate's worktree), sees the
run's folder and a copy of its output folder read-only, and is the only process shown `scorer.data`:
the candidate never runs in the process whose metric lines count.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.execute import consumed, feedback, readout, sandbox
from autoresearch.execute.process import RunResult
from autoresearch.materialise.params import render_command

if TYPE_CHECKING:
    from autoresearch.execute.command import CommandEvaluator


def score(
    evaluator: CommandEvaluator,
    experiment: Experiment,
    root: Path,
    log_dir: Path,
    values: dict[str, Any],
    env: dict[str, str],
    run: RunResult,
) -> Evaluation:
    """Run the spec's scorer on what RUN wrote; its metric lines are the ones that count."""
    spec = evaluator.spec
    scorer = spec.scorer
    assert scorer is not None
    root = evaluator.fresh_root(experiment, root)  # the scorer reads the run's output folder, not leftovers
    refused = evaluator.hooks.refuse(spec.root, evaluator.anchor) if evaluator.hooks is not None else None
    if refused is not None:
        return Evaluation(error=f"the scorer was not run: {refused}")
    try:  # a copy of the regular files the run wrote: no link or FIFO it left reaches the scorer
        given = consumed.copy_output(Path(values["output_dir"]), log_dir / "scorer.input", evaluator.anchor)
    except (OSError, safeio.UnsafePath) as exc:
        return Evaluation(error=f"the run's output could not be passed to the scorer: {exc}")
    values = values | {"run_dir": str(root), "output_dir": str(given.path)}
    home = spec.root.resolve()
    view = sandbox.View(home, readable=(root, given.path), reveal=tuple(scorer.data), read_only_root=True)
    try:
        result = evaluator.launch(
            render_command(scorer.command, values),
            cwd=home / spec.run.cwd,
            env=env
            # Params mode: runs and proposers write the scorer's folder, so it is not on its import path.
            | (consumed.ISOLATED_PYTHON if spec.code is None else {})
            | {"AUTORESEARCH_RUN_DIR": str(root), "AUTORESEARCH_OUTPUT_DIR": str(given.path)},
            timeout=scorer.timeout,
            logs=log_dir,
            view=view,
            stem="scorer.",
            diagnose=experiment.is_baseline,
            read_back=readout.metrics_file(home, spec.metric),
        )
    finally:
        consumed.remove(given, evaluator.anchor)
    evaluation = evaluator.read(result, home, timeout=scorer.timeout)
    # Only the scorer's `feedback:` lines pass (the user's scorer chooses what hidden data they quote).
    said, _ = evaluator.stdout_of(result)
    redactor = feedback.Redactor(spec.holdout.metric if spec.holdout else None)
    evaluation.extra["scorer_feedback"] = feedback.feedback_lines(said, redactor)
    if evaluation.error is not None:
        # The reason reaches proposers: never the scorer's output, which may quote hidden data.
        why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        if result.exit_code == 0 and not result.timed_out:
            why = f"no metric {spec.metric.name} in its output"
        evaluation.error = f"the scorer failed ({why}); see scorer.stderr.log in the experiment's folder"
        evaluation.error += f"; {result.sandbox_cause}" if result.sandbox_cause else ""
        if given.skipped:
            evaluation.error += f"; {given.note()}"
    evaluation.exit_code, evaluation.duration = run.exit_code, run.duration
    return evaluation
