"""Params mode's evaluator, and what every command-running evaluator shares: preparing jobs.

`CommandEvaluator` materialises a candidate (its params file and placeholders), measures it once per
repeat, and hands each command to the study's executor as a `Job` (`launch`). What a finished job
produced is read in readout.py; guards, the scorer, the holdout and the profile, which run further
jobs on the same candidate, are in guards.py, scorer.py, holdout.py and profile.py.
`code.py`'s `CodeEvaluator` materialises code candidates instead and inherits the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, proposal_of
from autoresearch.core.space import violation
from autoresearch.execute import diagnose as diagnose_run
from autoresearch.execute import (
    guards,
    holdout,
    integrity,
    pagecache,
    planted,
    preflight,
    profile,
    readout,
    sandbox,
    scorer,
    stages,
)
from autoresearch.execute.evaluate import Evaluator, aggregate
from autoresearch.execute.executor import Executor, Job, JobResult, make_executor
from autoresearch.execute.process import RunResult, read_tail
from autoresearch.execute.prune import EarlierCurves, LogWatcher, study_pruner
from autoresearch.execute.resources import Slot
from autoresearch.materialise.params import params_env, render_command, write_params_file
from autoresearch.spec import HoldoutSection, MetricSection, Spec


@dataclass
class Ran:
    """One run of the experiment command, interpreted, with what its guards and checks need."""

    evaluation: Evaluation
    env: dict[str, str]
    values: dict[str, Any]
    hashes: dict[str, str] | None  # protected files after it, where it ran (None: here)
    where: dict[str, str]  # where the executor ran it (ray_node, slurm_job), for the experiment's extra


class CommandEvaluator(Evaluator):
    """Materialises a params-mode candidate (its params file and placeholders) and runs the spec's command
    through the study's executor (`run.executor`); `CodeEvaluator` materialises code candidates instead."""

    def __init__(self, spec: Spec, executor: Executor | None = None) -> None:
        self.spec = spec
        self.executor = executor or make_executor(spec)
        self.warnings = sandbox.check(spec)  # a sandbox that cannot work here fails now, not per run
        # Params mode: protected files as they were when the study started; a run that finds them
        # changed (by an earlier run or anyone else) is rejected, not just one that changes them.
        self.reference = integrity.protected_hashes(spec.root, self.protected()) if spec.code is None else {}
        # Params mode: the hooks and modules in the spec's folder now, so that one a run leaves there
        # for a guard or the holdout to import (a conftest.py, a statistics.py) is found (planted.py).
        commands = spec.holdout is not None or spec.scorer is not None or any(g.command for g in spec.guard)
        self.hooks = planted.Snapshot.of(spec.root) if spec.code is None and commands else None
        self.devices: dict[int, Slot] = {}  # slot -> its GPUs and CPUs
        self.ran_in: dict[int, int] = {}  # experiment id -> the slot it ran in (re-measured there)
        self.stage_bar = stages.StageBar(spec.study.direction)  # the incumbent's [[stage]] values
        self.history: Sequence[Experiment] = ()  # the loop's (it grows): earlier curves for [prune]
        self.earlier_curves = EarlierCurves()

    def keep(self, experiment: Experiment) -> None:
        self.stage_bar.follow(experiment)

    def use_slots(self, slots: dict[int, Slot]) -> None:
        self.devices = self.executor.slots(slots)

    def prime(self, history: Sequence[Experiment]) -> None:
        self.stage_bar.prime(history)
        self.history = history
        self.executor.prime()

    def preflight(self) -> str:
        return preflight.check(self.spec)

    def protected(self) -> list[str]:
        """Paths (globs) relative to the run's folder that no run may change."""
        return [*self.spec.integrity.protected, *(self.spec.code.protected if self.spec.code else [])]

    @property
    def anchor(self) -> Path:
        """The folder below which autoresearch opens a run's files without following symlinks."""
        return self.spec.root

    def placeholder_values(
        self, experiment: Experiment, proposal: Proposal, log_dir: Path | None = None
    ) -> dict[str, Any]:
        """What `{name}` placeholders in the command become; writes the params file."""
        values: dict[str, Any] = {
            "experiment_id": experiment.id,
            "seed": self.spec.study.seed,
            "python": sys.executable,  # the interpreter running autoresearch, with its packages
        }
        if proposal.params is not None:
            folder = log_dir or self.log_dir(experiment)
            name = Path(self.spec.run.params_file).name
            params_file = write_params_file(folder / name, proposal.params, anchor=self.anchor)
            values.update(proposal.params)
            values["params_file"] = str(params_file)
        return values

    def log_dir(self, experiment: Experiment) -> Path:
        return self.spec.study_dir / "experiments" / f"{experiment.id:05d}"

    def check(self, proposal: Proposal, parent: Experiment | None = None) -> str | None:
        if proposal.params is not None:
            return violation(self.spec.params, proposal.params)
        return None

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        reason = self.check(proposal)
        if reason is not None:
            return Evaluation(rejected=reason)
        self.ran_in[experiment.id] = slot
        return self.run_in(self.spec.root, experiment, proposal, slot=slot)

    def repeats_for(self, experiment: Experiment) -> int:
        """How many times to measure: the baseline's noise may be measured with more repeats."""
        if experiment.is_baseline:
            return max(self.spec.run.repeats, self.spec.noise.baseline_repeats)
        return self.spec.run.repeats

    # -- measuring: stages, repeats, protected files, guards ---------------------------------------

    def run_in(
        self,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        *,
        log_dir: Path | None = None,
        seed_offset: int = 0,
        repeats: int | None = None,
        slot: int | None = None,
    ) -> Evaluation:
        """Run the experiment command for PROPOSAL, materialised in ROOT, once per repeat.

        Repeat i gets seed `study.seed + seed_offset + i` ({seed}, AUTORESEARCH_SEED); the objective is
        the mean, the values per repeat go to extra. Protected files are hashed before and after each repeat.
        """
        try:
            return self._run_repeats(root, experiment, proposal, log_dir, seed_offset, repeats, slot)
        except safeio.UnsafePath as exc:  # only a run (or a stray process of one) plants these
            return Evaluation(rejected=f"a run planted a symlink where autoresearch keeps its files: {exc}")

    def _run_repeats(
        self,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        log_dir: Path | None,
        seed_offset: int,
        repeats: int | None,
        slot: int | None,
    ) -> Evaluation:
        # Only a candidate's own first run may be pruned: never the baseline, never a re-measurement
        # (recheck, paired runs, confirm, ablation: they log elsewhere), never a repeat after the first.
        prunable = log_dir is None and self.spec.prune is not None and not experiment.is_baseline
        log_dir = log_dir or self.log_dir(experiment)
        staged: stages.StageOutcome | None = None
        if repeats is None and self.spec.stage:  # the first measurement: re-measurements give their repeats
            staged = stages.run_stages(
                self, root, experiment, proposal, log_dir, self.spec.study.seed + seed_offset, slot, self.stage_bar
            )
            extra = {"stages": staged.values, "stage_seconds": staged.seconds}
            if staged.rejected is not None:  # the full command never runs: the cost is the stages' time
                stopped = Evaluation(duration=staged.seconds, extra=extra | {"stage_rejected": staged.failed_stage})
                if experiment.is_baseline:  # the user's own code: a failure to fix, not a rejection
                    stopped.error = staged.rejected
                else:
                    stopped.rejected = staged.rejected
                return stopped
            root = self.fresh_root(experiment, root)
        count = repeats or self.repeats_for(experiment)
        protected = self.protected()
        before = integrity.protected_hashes(root, protected)
        runs: list[tuple[Evaluation, int]] = []
        touched: list[str] = []
        ran: Ran | None = None
        for index in range(count):
            if index:
                root = self.fresh_root(experiment, root)  # nothing repeat i-1 left behind reaches repeat i
            seed = self.spec.study.seed + seed_offset + index
            # Repeat 0 logs to the experiment's folder itself (what `show` reads), later ones beside it.
            folder = log_dir if index == 0 else log_dir / f"repeat-{index}"
            prune = prunable and index == 0
            ran = self._run_once(root, experiment, proposal, folder, seed, slot, prune=prune)
            runs.append((ran.evaluation, seed))
            # Checked after every repeat: the next one may start from a fresh checkout. An executor that
            # ran it elsewhere hashed them there.
            after = ran.hashes if ran.hashes is not None else integrity.protected_hashes(root, protected)
            touched = touched or integrity.changed(self.reference or before, before, after)
            if ran.evaluation.error is not None or ran.evaluation.pruned is not None:
                break
        assert ran is not None
        evaluation = runs[0][0] if count == 1 or runs[0][0].pruned else aggregate(runs, count)
        evaluation.extra.update(ran.where)
        if staged is not None:
            evaluation.extra.update(stages=staged.values, stage_seconds=staged.seconds)
        if touched:
            evaluation.rejected = f"the run changed protected file(s): {', '.join(touched)}"
        elif evaluation.error is None and evaluation.pruned is None:
            evaluation.rejected = guards.check_guards(self, evaluation, experiment, root, ran.env, log_dir, ran.values)
        return evaluation

    def job_env(
        self, experiment: Experiment, proposal: Proposal, values: dict[str, Any], devices: Slot | None = None
    ) -> dict[str, str]:
        """What a job run for EXPERIMENT is given: the spec's and the run's variables. The rest of its
        environment is the allowlisted part of the one where it runs (`Job.environment`)."""
        return {
            **self.spec.run.env,
            **(params_env(proposal.params) if proposal.params and self.spec.run.params_env else {}),
            "AUTORESEARCH_EXPERIMENT_ID": str(experiment.id),
            "AUTORESEARCH_SEED": str(values["seed"]),
            **({"AUTORESEARCH_PARAMS_FILE": values["params_file"]} if "params_file" in values else {}),
            **({"AUTORESEARCH_OUTPUT_DIR": values["output_dir"]} if "output_dir" in values else {}),
            **(devices.env() if devices else {}),
            **sandbox.env_overrides(self.spec),
        }

    def _run_once(
        self,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        log_dir: Path,
        seed: int,
        slot: int | None,
        *,
        prune: bool = False,
    ) -> Ran:
        # The run's own writable folder, fresh each time; the log folder around it is autoresearch's.
        output_dir = safeio.fresh_dir(log_dir / "output", self.anchor)
        values = self.placeholder_values(experiment, proposal, log_dir) | {"seed": seed, "output_dir": str(output_dir)}
        cwd = root / self.spec.run.cwd
        devices = self.devices.get(slot, Slot()) if slot is not None else Slot()
        env = self.job_env(experiment, proposal, values, devices)
        # A metrics file left by an earlier run (or written late by a stray process) must never be
        # read as this run's result: it is removed first, and read right after the run ends.
        if self.spec.metric.json_file is not None:
            integrity.remove_stale(cwd, self.spec.metric.json_file)
        readable: tuple[Path, ...] = (Path(values["params_file"]),) if "params_file" in values else ()
        view = sandbox.View(root, writable=(output_dir,), readable=readable)
        pruner = study_pruner(self.spec, self.earlier_curves.of(self.history)) if prune else None
        result = self.launch(
            render_command(self.spec.run.command, values),
            cwd=cwd,
            env=env,
            timeout=self.spec.run.timeout,
            logs=log_dir,
            view=view,
            devices=devices,
            diagnose=experiment.is_baseline,
            watch=LogWatcher(log_dir / "stdout.log", pruner) if pruner is not None else None,
            read_back=readout.metrics_file(cwd, self.spec.metric),
            protected=tuple(self.protected()),
        )
        if result.stopped and result.verdict is not None:
            verdict = result.verdict  # what it printed is no measurement: recorded as pruned, never kept
            evaluation = Evaluation(pruned=verdict.reason(), duration=result.duration)
            evaluation.extra["pruned"] = verdict.as_record()
        elif self.spec.scorer is None:
            evaluation = self.read(result, cwd)
        elif not result.succeeded:  # nothing to score; what the candidate printed does not count
            evaluation = self.read(result, cwd)
            evaluation.metrics = {}
        else:
            evaluation = scorer.score(self, experiment, root, log_dir, values, env, result)
        if pruner is not None and (idle := pruner.idle()) is not None:
            evaluation.extra["prune_idle"] = idle  # why [prune] could not judge this run
        scorer_lines = evaluation.extra.pop("scorer_feedback", [])
        evaluation.extra.update(readout.observe(self.spec, result, output_dir, scorer_lines))
        return Ran(evaluation, env, values, result.hashes, result.where)

    def launch(
        self,
        command: str,
        *,
        cwd: Path,
        env: dict[str, str],
        timeout: float | None,
        logs: Path,
        view: sandbox.View,
        stem: str = "",
        devices: Slot | None = None,
        diagnose: bool = False,
        watch: LogWatcher | None = None,
        read_back: tuple[Path, ...] = (),
        protected: tuple[str, ...] = (),
    ) -> JobResult:
        """Run COMMAND in the spec's sandbox, seeing VIEW, logging to LOGS/<STEM>stdout.log and
        stderr.log (opened without following links), as a job of the study's executor: every
        candidate-influenced process the evaluator starts (runs, guards, holdout, scorer, profile)
        starts here, and Ctrl-C stops it (`cancel_all`). ENV is what it is given (`job_env`); the
        allowlisted rest comes from where it runs.

        DIAGNOSE (the user's own code, the baseline; never a candidate's, see diagnose.py): when it
        fails, name the sandbox wall that likely caused it in the result's `sandbox_cause`."""
        try:
            label = f"{self.spec.name} {logs.relative_to(self.spec.study_dir)}/{stem}"
        except ValueError:
            label = f"{self.spec.name} {logs.name}/{stem}"
        job = Job(
            command=command,
            cwd=cwd,
            env=env,
            timeout=timeout,
            kill_grace=self.spec.run.kill_grace,
            stdout=logs / f"{stem}stdout.log",
            stderr=logs / f"{stem}stderr.log",
            anchor=self.anchor,
            max_log_bytes=self.spec.run.max_log_size,
            sandbox=(*sandbox.prefix(self.spec, view), *(devices.preexec() if devices else [])),
            view=view,
            protected=protected,
            read_back=read_back,
            watch=watch,
            label=label.rstrip("/."),
            pass_env=tuple(self.spec.run.pass_env),
        )
        result = self.executor.run(job)
        if diagnose and not result.succeeded and not result.timed_out:
            output = read_tail(result.stdout_path, 2000) + "\n" + read_tail(result.stderr_path, 2000)
            cause = diagnose_run.explain(self.spec, view, command, job.environment(), output)
            result.sandbox_cause = str(cause) if cause else ""
        return result

    def read(
        self,
        result: RunResult,
        cwd: Path,
        metric: MetricSection | HoldoutSection | None = None,
        timeout: float | None = None,
    ) -> Evaluation:
        """What RESULT measured (readout.read)."""
        return readout.read(self.spec, result, cwd, metric=metric, timeout=timeout)

    def stdout_of(self, result: RunResult) -> tuple[str, str | None]:
        return readout.stdout_of(self.spec, result)

    # -- re-measuring, the holdout and the profile (asked by the judge, never seen by a proposer) ---

    def remeasure(
        self,
        target: Experiment,
        *,
        for_experiment: Experiment,
        seed_offset: int,
        repeats: int | None = None,
        logs: Path | None = None,
    ) -> Evaluation:
        """Measure TARGET again with fresh seeds; logs go under FOR_EXPERIMENT's folder (or LOGS)."""
        folder = (logs or self.log_dir(for_experiment) / "recheck") / f"{target.id:05d}-{seed_offset}"
        root = self.fresh_root(target, self.root_for(target, for_experiment))
        # Compared runs alternate: each starts with its files in the page cache, whatever the run before
        # it evicted (a candidate could otherwise slow the incumbent's next run down; see pagecache.py).
        pagecache.warm(root)
        return self.run_in(
            root,
            target,
            proposal_of(target),
            log_dir=folder,
            seed_offset=seed_offset,
            repeats=repeats or self.spec.run.repeats,
            slot=self.ran_in.get(for_experiment.id, 0),  # `autoresearch confirm`: slot 0's devices
        )

    def without(self, best: Experiment, change: Experiment, parent: Experiment, variant_id: int) -> Experiment | str:
        """Params mode: BEST's parameters with those CHANGE set put back to PARENT's values, where BEST
        still holds CHANGE's value (a parameter a later change set again is no longer CHANGE's)."""
        if best.params is None or change.params is None or parent.params is None:
            return "it has no parameters to put back"
        params = dict(best.params)
        for name, value in change.params.items():
            if parent.params.get(name) != value and params.get(name) == value:
                if name in parent.params:
                    params[name] = parent.params[name]
                else:
                    params.pop(name, None)
        return Experiment(
            id=variant_id, status="done", proposal={"params": params}, created_at=0.0, params=params, extra={}
        )

    def root_for(self, target: Experiment, for_experiment: Experiment) -> Path:
        """The folder in which TARGET can run now, on FOR_EXPERIMENT's behalf (code mode: its worktree)."""
        return self.spec.root

    def fresh_root(self, experiment: Experiment, root: Path) -> Path:
        """ROOT made ready for a repeat, guard, recheck, holdout or scorer of EXPERIMENT; returns it.

        Code mode resets and cleans ROOT (a worktree) to a checkout of exactly EXPERIMENT's commit, so
        nothing an earlier run left there (a conftest.py, a module shadowing the standard library, a
        cached result) changes their outcome. Params mode runs in the user's folder, left as it is.
        """
        return root

    def holdout(self, experiment: Experiment) -> Evaluation:
        """Run the holdout evaluation on EXPERIMENT (just measured): metrics and objective, or error."""
        return holdout.run_holdout(self, experiment)

    def profile(self, experiment: Experiment) -> str:
        """Run [profile] on EXPERIMENT in the experiments' sandbox, on a fresh checkout; its top entries."""
        return profile.run_profile(self, experiment)

    def cancel_all(self) -> None:
        self.executor.cancel_all()

    def close(self) -> None:
        self.executor.close()
