"""Staged evaluation: `[[stage]]` commands run in order before the full experiment command.

Each stage is a cheaper evaluation (a smoke test, a small batch, one epoch) run in the same sandbox,
view and folder as the full run. A candidate whose stage crashes, times out, reports no value where a
threshold needs one, or whose value is worse than the incumbent's value at that stage by more than the
stage's threshold is rejected with the stage named, and the full command never runs: the experiment
costs only the stages' time. The baseline runs every stage (its values are the first bar) and is never
rejected by one. Re-measurements (paired runs, rechecks, confirm) do not run stages.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.core import safeio
from autoresearch.core.experiment import INCUMBENT, Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute import integrity, readout, sandbox
from autoresearch.execute.process import read_tail
from autoresearch.materialise.params import render_command
from autoresearch.spec import MetricSection, StageSection

if TYPE_CHECKING:
    from autoresearch.execute.command import CommandEvaluator


@dataclass
class StageOutcome:
    """What the stages of one candidate gave: each stage's value, their total seconds, and why the
    candidate stops here (None: it goes on to the full run)."""

    values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    rejected: str | None = None
    failed_stage: str | None = None


class StageBar:
    """The incumbent's value at each stage: the bar a candidate's stage values are compared with.

    It follows the global best (`keep`); on resume it is rebuilt from the store (`prime`)."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self._lock = threading.Lock()
        self._incumbent: tuple[int, dict[str, float]] | None = None

    def follow(self, experiment: Experiment) -> None:
        values = experiment.extra.get("stages")
        with self._lock:
            self._incumbent = (experiment.id, dict(values) if isinstance(values, dict) else {})

    def prime(self, history: Sequence[Experiment]) -> None:
        """The best experiment the store holds that was baseline or kept becomes the bar."""
        sign = 1.0 if self.direction == "minimize" else -1.0
        kept = [e for e in history if e.decision in INCUMBENT and e.objective is not None]
        if kept:
            self.follow(min(kept, key=lambda e: sign * float(e.objective or 0.0)))

    def incumbent(self) -> tuple[int, dict[str, float]] | None:
        with self._lock:
            return self._incumbent


def missed(stage: StageSection, value: float, bar: float, bar_id: int, direction: str) -> str | None:
    """Why VALUE misses STAGE's threshold against the incumbent #BAR_ID's value BAR, or None."""
    if stage.max_worse is not None:
        allowed, shown = stage.max_worse * abs(bar), f"max_worse = {stage.max_worse:g}"
    elif stage.max_worse_abs is not None:
        allowed, shown = stage.max_worse_abs, f"max_worse_abs = {stage.max_worse_abs:g}"
    else:
        return None
    worse_by = value - bar if direction == "minimize" else bar - value
    if worse_by > allowed:
        return f"stage {stage.name}: value {value:g} worse than the incumbent #{bar_id}'s {bar:g} by more than {shown}"
    return None


def stage_metric(evaluator: CommandEvaluator, stage: StageSection) -> MetricSection:
    """How STAGE's value is read: the study's metric (and objective), or another metric of the same output."""
    metric = evaluator.spec.metric
    if stage.metric is None or stage.metric == metric.name:
        return metric
    return metric.model_copy(update={"name": stage.metric, "objective": None})


def run_stages(
    evaluator: CommandEvaluator,
    root: Path,
    experiment: Experiment,
    proposal: Proposal,
    log_dir: Path,
    seed: int,
    slot: int | None,
    bar: StageBar,
) -> StageOutcome:
    """Run the spec's stages in order for EXPERIMENT in ROOT; stop at the first one it misses."""
    outcome = StageOutcome()
    incumbent = None if experiment.is_baseline else bar.incumbent()
    direction = evaluator.spec.study.direction
    for index, stage in enumerate(evaluator.spec.stage):
        if index:
            root = evaluator.fresh_root(experiment, root)  # nothing an earlier stage left reaches this one
        stem = f"stage-{stage.name}."
        try:
            output_dir = safeio.fresh_dir(log_dir / f"{stem}output", evaluator.anchor)
            values = evaluator.placeholder_values(experiment, proposal, log_dir) | {
                "seed": seed,
                "output_dir": str(output_dir),
            }
            cwd = root / evaluator.spec.run.cwd
            metric = stage_metric(evaluator, stage)
            if metric.json_file is not None:  # an earlier run's file is never read as this stage's value
                integrity.remove_stale(cwd, metric.json_file)
        except safeio.UnsafePath as exc:
            outcome.rejected = f"stage {stage.name}: a run planted a symlink where autoresearch keeps its files: {exc}"
            outcome.failed_stage = stage.name
            return outcome
        readable: tuple[Path, ...] = (Path(values["params_file"]),) if "params_file" in values else ()
        devices = evaluator.devices.get(slot) if slot is not None else None
        result = evaluator.launch(
            render_command(stage.command, values),
            cwd=cwd,
            env=evaluator.job_env(experiment, proposal, values, devices),
            timeout=stage.timeout,
            logs=log_dir,
            view=sandbox.View(root, writable=(output_dir,), readable=readable),
            stem=stem,
            devices=devices,
            diagnose=experiment.is_baseline,
            read_back=readout.metrics_file(cwd, metric),
        )
        outcome.seconds += result.duration
        evaluation = evaluator.read(result, cwd, metric=metric, timeout=stage.timeout)
        value = evaluation.objective if stage.metric is None else evaluation.metrics.get(stage.metric)
        if not result.succeeded or result.error is not None:
            why = evaluation.error or f"exit code {result.exit_code}"
            tail = read_tail(result.stderr_path, 300, whole_lines=True).strip().splitlines()
            outcome.rejected = f"stage {stage.name} failed ({why})" + (
                f": {tail[-1]}" if tail and tail[-1] not in why else ""
            )
            outcome.failed_stage = stage.name
            return outcome
        if value is None or not math.isfinite(value):
            if stage.has_threshold:  # a stage without a threshold only has to succeed
                outcome.rejected = f"stage {stage.name}: {evaluation.error or 'no finite value reported'}"
                outcome.failed_stage = stage.name
                return outcome
            continue
        outcome.values[stage.name] = value
        if incumbent is not None and stage.name in incumbent[1]:
            reason = missed(stage, value, incumbent[1][stage.name], incumbent[0], direction)
            if reason is not None:
                outcome.rejected, outcome.failed_stage = reason, stage.name
                return outcome
    return outcome
