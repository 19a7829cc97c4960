"""`[profile]`: where the new incumbent spends its time, as the top entries of the user's profiler command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.core import safeio
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import proposal_of
from autoresearch.execute import feedback, sandbox
from autoresearch.execute.process import read_tail
from autoresearch.materialise.params import render_command

if TYPE_CHECKING:
    from autoresearch.execute.command import CommandEvaluator


def run_profile(evaluator: CommandEvaluator, experiment: Experiment) -> str:
    """Run [profile] on EXPERIMENT in the experiments' sandbox, on a fresh checkout; its top entries."""
    spec = evaluator.spec
    profile = spec.profile
    assert profile is not None
    root = evaluator.fresh_root(experiment, evaluator.root_for(experiment, experiment))
    log_dir = evaluator.log_dir(experiment) / "profile"
    try:
        output_dir = safeio.fresh_dir(log_dir / "output", evaluator.anchor)
        values = evaluator.placeholder_values(experiment, proposal_of(experiment), log_dir)
    except safeio.UnsafePath as exc:
        return f"(no profile: {exc})"
    values["output_dir"] = str(output_dir)
    readable = (Path(values["params_file"]),) if "params_file" in values else ()
    result = evaluator.launch(
        render_command(profile.command, values),
        cwd=root / spec.run.cwd,
        env=evaluator.job_env(experiment, proposal_of(experiment), values),
        timeout=profile.timeout,
        logs=log_dir,
        view=sandbox.View(root, writable=(output_dir,), readable=readable),
    )
    redactor = feedback.Redactor(spec.holdout.metric if spec.holdout else None)
    if not result.succeeded:
        why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        tail = redactor.lines(read_tail(result.stderr_path, 300, whole_lines=True)).strip().splitlines()
        return f"(the profile failed, {why}" + (f": {tail[-1]})" if tail else ")")
    output, _ = evaluator.stdout_of(result)
    return feedback.top_entries(redactor.lines(output), profile.top, profile.chars)
