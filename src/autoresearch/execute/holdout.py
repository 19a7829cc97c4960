"""`[holdout]`: the measured candidate run once on data the search never sees, for the report.

The holdout command runs on a fresh checkout of the candidate, with the holdout's inputs mounted for it
alone and a read-only copy of what the measured run wrote (a trained model), so it can score that
instead of training again.

Its number can come from a process the candidate never runs in (`[holdout] scorer`). The holdout
command runs candidate code with the holdout's inputs mounted, so whatever it prints could be faked.
With `holdout.scorer`, what it prints is ignored: it writes predictions to its output folder, and the
scorer (the user's command, in the spec's own folder, read-only) computes the holdout metric from
them, the only process shown `holdout.scorer_data` (the labels). Like `[scorer]` for the search metric.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import proposal_of
from autoresearch.execute import consumed, integrity, readout, sandbox
from autoresearch.execute.evaluate import plain_dir
from autoresearch.execute.process import RunResult
from autoresearch.materialise.params import render_command

if TYPE_CHECKING:
    from autoresearch.execute.command import CommandEvaluator


def run_holdout(evaluator: CommandEvaluator, experiment: Experiment) -> Evaluation:
    """Run the holdout evaluation on EXPERIMENT (just measured): metrics and objective, or error."""
    spec = evaluator.spec
    holdout = spec.holdout
    assert holdout is not None
    root = evaluator.fresh_root(experiment, evaluator.root_for(experiment, experiment))
    refused = evaluator.hooks.refuse(root, evaluator.anchor) if evaluator.hooks is not None else None
    if refused is not None:
        return Evaluation(error=f"the holdout was not run: {refused}")
    log_dir = evaluator.log_dir(experiment) / "holdout"
    try:
        output_dir = safeio.fresh_dir(log_dir / "output", evaluator.anchor)
        values = evaluator.placeholder_values(experiment, proposal_of(experiment), log_dir)
        values["output_dir"] = str(output_dir)
        cwd = root / spec.run.cwd
        if holdout.json_file is not None:
            integrity.remove_stale(cwd, holdout.json_file)
    except safeio.UnsafePath as exc:
        return Evaluation(error=f"the holdout could not run: {exc}")
    readable: tuple[Path, ...] = (Path(values["params_file"]),) if "params_file" in values else ()
    # What the measured run wrote (a trained model, predictions), as a read-only copy of its regular
    # files: a holdout scores it instead of training again, and no link, hard link or FIFO the run
    # left points the holdout, which sees holdout.data, elsewhere. The fresh checkout above still
    # hides everything else it left.
    run_output = evaluator.log_dir(experiment) / "output"
    env_extra: dict[str, str] = {}
    given: consumed.Copied | None = None
    if plain_dir(run_output):
        try:
            given = consumed.copy_output(run_output, log_dir / "run-output", evaluator.anchor)
        except (OSError, safeio.UnsafePath) as exc:
            return Evaluation(error=f"the run's output could not be passed to the holdout: {exc}")
        readable += (given.path,)
        values["run_output_dir"] = str(given.path)
        env_extra["AUTORESEARCH_RUN_OUTPUT_DIR"] = str(given.path)
    view = sandbox.View(root, writable=(output_dir,), readable=readable, reveal=tuple(holdout.data))
    env = evaluator.job_env(experiment, proposal_of(experiment), values) | env_extra
    try:
        result = evaluator.launch(
            render_command(holdout.command, values),
            cwd=cwd,
            env=env,
            timeout=holdout.timeout,
            logs=log_dir,
            view=view,
            diagnose=experiment.is_baseline,
            read_back=readout.metrics_file(cwd, holdout),
        )
    finally:
        if given is not None:
            consumed.remove(given, evaluator.anchor)
    if holdout.scorer is not None:  # what the candidate's code printed does not count
        return score_holdout(evaluator, result, log_dir=log_dir, output_dir=output_dir, values=values, env=env)
    evaluation = evaluator.read(result, cwd, metric=holdout, timeout=holdout.timeout)
    if holdout.json_file is not None:  # read; it must not stay where later runs (params mode) can read it
        with contextlib.suppress(OSError, safeio.UnsafePath):
            integrity.remove_stale(cwd, holdout.json_file)
    return evaluation


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
    # reads a copy of its plain files only, as `[scorer]` does (consumed.py).
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
            read_back=readout.metrics_file(home, holdout),
        )
    finally:
        consumed.remove(given, evaluator.anchor)
    evaluation = evaluator.read(result, home, metric=holdout, timeout=holdout.timeout)
    if evaluation.error is not None:
        evaluation.error = f"the holdout scorer failed ({evaluation.error}); see holdout/scorer.stderr.log"
    return evaluation
