"""`[[guard]]`: rules a measured candidate must also pass, a bound on a metric or a command that must succeed."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.execute import sandbox
from autoresearch.execute.process import read_tail
from autoresearch.materialise.params import render_command

if TYPE_CHECKING:
    from autoresearch.execute.command import CommandEvaluator


def check_guards(
    evaluator: CommandEvaluator,
    evaluation: Evaluation,
    experiment: Experiment,
    root: Path,
    env: dict[str, str],
    log_dir: Path,
    values: dict[str, Any],
) -> str | None:
    """The first guard the candidate fails, with its name and output tail; None if all pass.

    Guard commands run in the same sandbox as the experiment, on a freshly reset ROOT.
    """
    spec = evaluator.spec
    for guard in spec.guard:
        if guard.metric is not None:
            value = evaluation.metrics.get(guard.metric)
            if value is None:
                return f"guard {guard.name}: metric {guard.metric} was not reported"
            if not math.isfinite(value):  # nan compares false with every bound: it must not pass
                return f"guard {guard.name}: {guard.metric} = {value} is not a finite number"
            if guard.max is not None and value > guard.max:
                return f"guard {guard.name}: {guard.metric} = {value:g} is above max {guard.max:g}"
            if guard.min is not None and value < guard.min:
                return f"guard {guard.name}: {guard.metric} = {value:g} is below min {guard.min:g}"
            continue
        assert guard.command is not None
        root = evaluator.fresh_root(experiment, root)  # nothing the run left (a conftest.py) reaches the guard
        refused = evaluator.hooks.refuse(root, evaluator.anchor) if evaluator.hooks is not None else None
        if refused is not None:
            return f"guard {guard.name} not run: {refused}"
        cwd = root / spec.run.cwd
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", guard.name)
        readable = (Path(values["params_file"]),) if "params_file" in values else ()
        try:
            output_dir = safeio.fresh_dir(log_dir / f"guard-{slug}.output", evaluator.anchor)
            result = evaluator.launch(
                render_command(guard.command, values | {"output_dir": str(output_dir)}),
                cwd=cwd,
                env=env | {"AUTORESEARCH_OUTPUT_DIR": str(output_dir)},
                timeout=guard.timeout,
                logs=log_dir,
                view=sandbox.View(root, writable=(output_dir,), readable=readable),
                stem=f"guard-{slug}.",
                diagnose=experiment.is_baseline,
            )
        except safeio.UnsafePath as exc:
            return f"guard {guard.name}: a run planted a symlink where autoresearch keeps its files: {exc}"
        if not result.succeeded:
            why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            lines = [
                line
                for path in (result.stdout_path, result.stderr_path)
                for line in read_tail(path, 400, whole_lines=True).splitlines()
                if line.strip()
            ]
            cause = f"; {result.sandbox_cause}" if result.sandbox_cause else ""
            return (
                f"guard {guard.name} failed ({why}): {' | '.join(lines[-3:])} (log: {result.stdout_path.parent})"
                + cause
            )
    return None
