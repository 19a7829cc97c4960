"""Evaluating one candidate: materialise it, run the experiment command, read its metrics.

Two separate choices make an evaluator. *What is materialised*: a params file in the user's folder
(`CommandEvaluator`) or a commit checked out in a git worktree (`workspace/code.py`'s `CodeEvaluator`).
*Where it runs*: a `Runner`, local processes here (`LocalRunner`) or Ray tasks (`run/ray_executor.py`'s
`RayRunner`). Any evaluator takes any runner; every process either starts goes through `launch`, the
one sandbox.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import stat
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, proposal_of
from autoresearch.core.space import violation
from autoresearch.execute import consumed, feedback, integrity, pagecache, planted, preflight, sandbox, stages
from autoresearch.execute import diagnose as diagnose_run
from autoresearch.execute.holdout import score_holdout
from autoresearch.execute.metrics import measure
from autoresearch.execute.process import RunResult, experiment_env, read_tail, run_command
from autoresearch.execute.prune import EarlierCurves, LogWatcher, recorded_curve, study_pruner
from autoresearch.execute.resources import Slot
from autoresearch.materialise.params import params_env, render_command, write_params_file
from autoresearch.spec import HoldoutSection, MetricSection, Spec


class Evaluator:
    """Materialises and runs candidates. Subclasses implement `evaluate`; the rest is optional."""

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        raise NotImplementedError

    def check(self, proposal: Proposal, parent: Experiment | None = None) -> str | None:
        """Why PROPOSAL cannot be run on PARENT (bad params, edits that do not apply), or None."""
        return None

    def keep(self, experiment: Experiment) -> None:
        """EXPERIMENT is the new global best (code mode moves the study branch)."""

    def heads(self, heads: dict[str, Experiment]) -> None:
        """The search policy's lineage heads changed (code mode keeps each one as a git ref)."""

    def tampered(self, best: Experiment | None, finished: Sequence[Experiment]) -> str | None:
        """What a run changed in the study's own git state (code mode: the study branch moved away from
        BEST's commit, an object of BEST's or FINISHED's commits rewritten), or None. The branch is put
        back where the store says it belongs."""
        return None

    def prime(self, history: Sequence[Experiment]) -> None:
        """Learn what the store already holds (on resume)."""

    def use_slots(self, slots: dict[int, Slot]) -> None:
        """The devices (GPUs, CPUs) each slot owns; an experiment run in slot i uses only slots[i]'s."""

    def rebase(self, experiment: Experiment, onto: Experiment) -> Proposal | str:
        """Code mode: EXPERIMENT's edits re-applied onto ONTO as a new proposal, or why they cannot be."""
        return "only code mode re-bases candidates"

    def files(self, parent: Experiment | None = None) -> dict[str, str]:
        """Code mode: the editable files of PARENT (default: the baseline), for proposers to read."""
        return {}

    def log_dir(self, experiment: Experiment) -> Path | None:
        return None

    def cancel_all(self) -> None:
        """Stop every running experiment now (Ctrl-C)."""

    def close(self) -> None:
        """The study has stopped: release what only running needs (code mode's worktrees)."""

    def baseline_hint(self, failed: Experiment | None) -> str:
        """After the baseline FAILED: a likely cause the user can fix (code mode: a missing file that is not
        committed), or ''."""
        return ""

    def preflight(self) -> str:
        """Before the baseline: why a command of the spec cannot start in the sandbox, or ''."""
        return ""

    def remeasure(
        self,
        target: Experiment,
        *,
        for_experiment: Experiment,
        seed_offset: int,
        repeats: int | None = None,
        logs: Path | None = None,
    ) -> Evaluation:
        """Measure TARGET (the candidate or the incumbent) again with fresh seeds, for the judge:
        REPEATS runs (default run.repeats) in FOR_EXPERIMENT's slot, so that interleaved runs of two
        experiments share one slot's devices and see the same load. LOGS: where the runs' folders go
        (default: FOR_EXPERIMENT's recheck/ folder)."""
        return Evaluation(error=f"{type(self).__name__} cannot re-measure an experiment")

    def without(self, best: Experiment, change: Experiment, parent: Experiment, variant_id: int) -> Experiment | str:
        """BEST with the kept CHANGE (built on PARENT) undone, for an ablation: an experiment that is
        never stored, with id VARIANT_ID (negative, so it meets no real one), that `remeasure` can run;
        or why it cannot be built. A variant equal to BEST means nothing of CHANGE is left in it."""
        return f"{type(self).__name__} cannot undo a change"

    def holdout(self, experiment: Experiment) -> Evaluation:
        """Run the spec's holdout evaluation on EXPERIMENT, which has just been measured."""
        return Evaluation(error=f"{type(self).__name__} cannot run a holdout evaluation")

    def profile(self, experiment: Experiment) -> str:
        """The top entries of the spec's [profile] command run on EXPERIMENT (the new incumbent), as text."""
        return f"(no profile: {type(self).__name__} cannot run one)"


class RunningProcesses:
    """Process groups of running experiments, so Ctrl-C can stop them all from the main thread."""

    def __init__(self) -> None:
        self._pgids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, pgid: int) -> None:
        with self._lock:
            self._pgids.add(pgid)

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._pgids.discard(pgid)

    def kill_all(self) -> None:
        with self._lock:
            for pgid in self._pgids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)


class Runner:
    """Where a materialised candidate's runs happen: RUN measures it (repeats, protected-file hashes,
    guards) in ROOT, as `CommandEvaluator.run_here` does on this machine."""

    def run(
        self,
        evaluator: CommandEvaluator,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        *,
        log_dir: Path | None,
        seed_offset: int,
        repeats: int | None,
        slot: int | None,
    ) -> Evaluation:
        raise NotImplementedError

    def use_slots(self, slots: dict[int, Slot]) -> dict[int, Slot]:
        """The local devices each slot owns, for runs started here."""
        return slots

    def prime(self, evaluator: CommandEvaluator) -> None:
        """Before the first experiment (from the main thread): e.g. connect to a cluster."""

    def cancel_all(self) -> None:
        """Stop what this runner started elsewhere (Ctrl-C); local process groups are the evaluator's."""


class LocalRunner(Runner):
    """Runs here, as process groups in the spec's sandbox."""

    def run(
        self,
        evaluator: CommandEvaluator,
        root: Path,
        experiment: Experiment,
        proposal: Proposal,
        *,
        log_dir: Path | None,
        seed_offset: int,
        repeats: int | None,
        slot: int | None,
    ) -> Evaluation:
        return evaluator.run_here(
            root, experiment, proposal, log_dir=log_dir, seed_offset=seed_offset, repeats=repeats, slot=slot
        )


class CommandEvaluator(Evaluator):
    """Materialises a params-mode candidate (its params file and placeholders) and runs the spec's command
    through RUNNER; `CodeEvaluator` materialises code candidates instead."""

    def __init__(self, spec: Spec, runner: Runner | None = None) -> None:
        self.spec = spec
        self.runner = runner or LocalRunner()
        self.running = RunningProcesses()
        self.warnings = sandbox.check(spec)  # a sandbox that cannot work here fails now, not per run
        # Params mode: protected files as they were when the study started; a run that finds them
        # changed (by an earlier run or anyone else) is rejected, not just one that changes them.
        self.reference = integrity.protected_hashes(spec.root, self.protected()) if spec.code is None else {}
        # Params mode: the hooks and modules in the spec's folder now, so that one a run leaves there
        # for a guard or the holdout to import (a conftest.py, a statistics.py) is found (run/planted.py).
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
        self.devices = self.runner.use_slots(slots)

    def prime(self, history: Sequence[Experiment]) -> None:
        self.stage_bar.prime(history)
        self.history = history
        self.runner.prime(self)

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
        """Measure PROPOSAL, materialised in ROOT, where the runner runs it."""
        return self.runner.run(
            self, root, experiment, proposal, log_dir=log_dir, seed_offset=seed_offset, repeats=repeats, slot=slot
        )

    def run_here(
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
        """Run the experiment command for PROPOSAL with ROOT as the spec's folder, once per repeat, here.

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
        for index in range(count):
            if index:
                root = self.fresh_root(experiment, root)  # nothing repeat i-1 left behind reaches repeat i
            seed = self.spec.study.seed + seed_offset + index
            # Repeat 0 logs to the experiment's folder itself (what `show` reads), later ones beside it.
            folder = log_dir if index == 0 else log_dir / f"repeat-{index}"
            prune = prunable and index == 0
            evaluation, _, env, values = self._run_once(root, experiment, proposal, folder, seed, slot, prune=prune)
            runs.append((evaluation, seed))
            # Checked after every repeat: the next one may start from a fresh checkout.
            after = integrity.protected_hashes(root, protected)
            touched = touched or integrity.changed(self.reference or before, before, after)
            if evaluation.error is not None or evaluation.pruned is not None:
                break
        evaluation = runs[0][0] if count == 1 or runs[0][0].pruned else aggregate(runs, count)
        if staged is not None:
            evaluation.extra.update(stages=staged.values, stage_seconds=staged.seconds)
        if touched:
            evaluation.rejected = f"the run changed protected file(s): {', '.join(touched)}"
        elif evaluation.error is None and evaluation.pruned is None:
            evaluation.rejected = self.check_guards(evaluation, experiment, root, env, log_dir, values)
        return evaluation

    def _env(
        self, experiment: Experiment, proposal: Proposal, values: dict[str, Any], devices: Slot | None = None
    ) -> dict[str, str]:
        return experiment_env(
            os.environ,
            extra={
                **self.spec.run.env,
                **(params_env(proposal.params) if proposal.params and self.spec.run.params_env else {}),
                "AUTORESEARCH_EXPERIMENT_ID": str(experiment.id),
                "AUTORESEARCH_SEED": str(values["seed"]),
                **({"AUTORESEARCH_PARAMS_FILE": values["params_file"]} if "params_file" in values else {}),
                **({"AUTORESEARCH_OUTPUT_DIR": values["output_dir"]} if "output_dir" in values else {}),
                **(devices.env() if devices else {}),
                **sandbox.env_overrides(self.spec),
            },
            allow=self.spec.run.pass_env,
        )

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
    ) -> tuple[Evaluation, Path, dict[str, str], dict[str, Any]]:
        # The run's own writable folder, fresh each time; the log folder around it is autoresearch's.
        output_dir = safeio.fresh_dir(log_dir / "output", self.anchor)
        values = self.placeholder_values(experiment, proposal, log_dir) | {"seed": seed, "output_dir": str(output_dir)}
        cwd = root / self.spec.run.cwd
        devices = self.devices.get(slot, Slot()) if slot is not None else Slot()
        env = self._env(experiment, proposal, values, devices)
        # A metrics file left by an earlier run (or written late by a stray process) must never be
        # read as this run's result: it is removed first, and read right after the run ends.
        if self.spec.metric.json_file is not None:
            integrity.remove_stale(cwd, self.spec.metric.json_file)
        readable: tuple[Path, ...] = (Path(values["params_file"]),) if "params_file" in values else ()
        view = sandbox.View(root, writable=(output_dir,), readable=readable)
        pruner = study_pruner(self.spec, self.earlier_curves.of(self.history)) if prune else None
        watcher = LogWatcher(log_dir / "stdout.log", pruner) if pruner is not None else None
        result = self.launch(
            render_command(self.spec.run.command, values),
            cwd=cwd,
            env=env,
            timeout=self.spec.run.timeout,
            logs=log_dir,
            view=view,
            devices=devices,
            diagnose=experiment.is_baseline,
            watch=watcher.stops if watcher is not None else None,
        )
        if result.stopped and watcher is not None and watcher.verdict is not None:
            verdict = watcher.verdict  # what it printed is no measurement: recorded as pruned, never kept
            evaluation = Evaluation(pruned=verdict.reason(), duration=result.duration)
            evaluation.extra["pruned"] = verdict.as_record()
        elif self.spec.scorer is None:
            evaluation = self.read(result, cwd)
        elif not result.succeeded:  # nothing to score; what the candidate printed does not count
            evaluation = self.read(result, cwd)
            evaluation.metrics = {}
        else:
            evaluation = self.score(experiment, root, log_dir, values, env, result)
        evaluation.extra.update(self.observe(result, output_dir, evaluation.extra.pop("scorer_feedback", [])))
        return evaluation, cwd, env, values

    def observe(self, run: RunResult, output_dir: Path, scorer_lines: list[str]) -> dict[str, Any]:
        """The run's feedback text and metric curves, for proposers (bounded; holdout lines dropped)."""
        redactor = feedback.Redactor(self.spec.holdout.metric if self.spec.holdout else None)
        output, _ = self.stdout_of(run)
        text = feedback.join_feedback(
            [
                ("run", feedback.feedback_lines(output, redactor)),
                (feedback.FEEDBACK_FILE, feedback.read_feedback_file(output_dir, self.anchor, redactor)),
                ("scorer", scorer_lines),
            ]
        )
        found: dict[str, Any] = {}
        if text:
            found["feedback"] = text
        curves = feedback.metric_series(output, redactor)
        if curves:
            found["series"] = curves
        if self.spec.prune is not None and not run.stdout_cut:  # a cut log loses steps: no curve to compare with
            metric = self.spec.prune.metric_name(self.spec.metric.name)
            curve = recorded_curve(output, metric) if redactor.allows(metric) else []
            if curve:
                found["prune_curve"] = curve
        return found

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
        watch: Callable[[], bool] | None = None,
    ) -> RunResult:
        """Run COMMAND in the spec's sandbox, seeing VIEW, logging to LOGS/<STEM>stdout.log and
        stderr.log (opened without following links) and killable by Ctrl-C: every candidate-influenced
        process the evaluator starts (runs, guards, holdout, scorer, profile) starts here.

        DIAGNOSE (the user's own code, the baseline; never a candidate's, see run/diagnose.py): when it
        fails, name the sandbox wall that likely caused it in the result's `sandbox_cause`."""
        result = run_command(
            command,
            cwd=cwd,
            env=env,
            timeout=timeout,
            stdout_path=logs / f"{stem}stdout.log",
            stderr_path=logs / f"{stem}stderr.log",
            max_log_bytes=self.spec.run.max_log_size,
            kill_grace=self.spec.run.kill_grace,
            preexec=[*sandbox.prefix(self.spec, view), *(devices.preexec() if devices else [])],
            on_start=self.running.add,
            on_exit=self.running.discard,
            anchor=self.anchor,
            watch=watch,
        )
        if diagnose and not result.succeeded and not result.timed_out:
            output = read_tail(result.stdout_path, 2000) + "\n" + read_tail(result.stderr_path, 2000)
            cause = diagnose_run.explain(self.spec, view, command, env, output)
            result.sandbox_cause = str(cause) if cause else ""
        return result

    def score(
        self,
        experiment: Experiment,
        root: Path,
        log_dir: Path,
        values: dict[str, Any],
        env: dict[str, str],
        run: RunResult,
    ) -> Evaluation:
        """Run the spec's scorer on what the run wrote; its metric lines are the ones that count.

        The scorer runs in the spec's own folder (the user's files, not the candidate's worktree), sees
        the run's folder and output folder read-only, and is the only process shown `scorer.data`.
        """
        scorer = self.spec.scorer
        assert scorer is not None
        root = self.fresh_root(experiment, root)  # the scorer reads the run's output folder, not leftovers
        refused = self.hooks.refuse(self.spec.root, self.anchor) if self.hooks is not None else None
        if refused is not None:
            return Evaluation(error=f"the scorer was not run: {refused}")
        try:  # a copy of the regular files the run wrote: no link or FIFO it left reaches the scorer
            given = consumed.copy_output(Path(values["output_dir"]), log_dir / "scorer.input", self.anchor)
        except (OSError, safeio.UnsafePath) as exc:
            return Evaluation(error=f"the run's output could not be passed to the scorer: {exc}")
        values = values | {"run_dir": str(root), "output_dir": str(given.path)}
        home = self.spec.root.resolve()
        view = sandbox.View(home, readable=(root, given.path), reveal=tuple(scorer.data), read_only_root=True)
        try:
            result = self.launch(
                render_command(scorer.command, values),
                cwd=home / self.spec.run.cwd,
                env=env
                # Params mode: runs and proposers write the scorer's folder, so it is not on its import path.
                | (consumed.ISOLATED_PYTHON if self.spec.code is None else {})
                | {"AUTORESEARCH_RUN_DIR": str(root), "AUTORESEARCH_OUTPUT_DIR": str(given.path)},
                timeout=scorer.timeout,
                logs=log_dir,
                view=view,
                stem="scorer.",
                diagnose=experiment.is_baseline,
            )
        finally:
            consumed.remove(given, self.anchor)
        evaluation = self.read(result, home, timeout=scorer.timeout)
        # Only the scorer's `feedback:` lines pass (the user's scorer chooses what hidden data they quote).
        said, _ = self.stdout_of(result)
        redactor = feedback.Redactor(self.spec.holdout.metric if self.spec.holdout else None)
        evaluation.extra["scorer_feedback"] = feedback.feedback_lines(said, redactor)
        if evaluation.error is not None:
            # The reason reaches proposers: never the scorer's output, which may quote hidden data.
            why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            if result.exit_code == 0 and not result.timed_out:
                why = f"no metric {self.spec.metric.name} in its output"
            evaluation.error = f"the scorer failed ({why}); see scorer.stderr.log in the experiment's folder"
            evaluation.error += f"; {result.sandbox_cause}" if result.sandbox_cause else ""
            if given.skipped:
                evaluation.error += f"; {given.note()}"
        evaluation.exit_code, evaluation.duration = run.exit_code, run.duration
        return evaluation

    # -- re-measuring and the holdout (asked by the judge, never seen by a proposer) ----------------

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
        holdout = self.spec.holdout
        assert holdout is not None
        root = self.fresh_root(experiment, self.root_for(experiment, experiment))
        refused = self.hooks.refuse(root, self.anchor) if self.hooks is not None else None
        if refused is not None:
            return Evaluation(error=f"the holdout was not run: {refused}")
        log_dir = self.log_dir(experiment) / "holdout"
        try:
            output_dir = safeio.fresh_dir(log_dir / "output", self.anchor)
            values = self.placeholder_values(experiment, proposal_of(experiment), log_dir)
            values["output_dir"] = str(output_dir)
            cwd = root / self.spec.run.cwd
            if holdout.json_file is not None:
                integrity.remove_stale(cwd, holdout.json_file)
        except safeio.UnsafePath as exc:
            return Evaluation(error=f"the holdout could not run: {exc}")
        readable: tuple[Path, ...] = (Path(values["params_file"]),) if "params_file" in values else ()
        # What the measured run wrote (a trained model, predictions), as a read-only copy of its regular
        # files: a holdout scores it instead of training again, and no link, hard link or FIFO the run
        # left points the holdout, which sees holdout.data, elsewhere. The fresh checkout above still
        # hides everything else it left.
        run_output = self.log_dir(experiment) / "output"
        env_extra: dict[str, str] = {}
        given: consumed.Copied | None = None
        if _plain_dir(run_output):
            try:
                given = consumed.copy_output(run_output, log_dir / "run-output", self.anchor)
            except (OSError, safeio.UnsafePath) as exc:
                return Evaluation(error=f"the run's output could not be passed to the holdout: {exc}")
            readable += (given.path,)
            values["run_output_dir"] = str(given.path)
            env_extra["AUTORESEARCH_RUN_OUTPUT_DIR"] = str(given.path)
        view = sandbox.View(root, writable=(output_dir,), readable=readable, reveal=tuple(holdout.data))
        env = self._env(experiment, proposal_of(experiment), values) | env_extra
        try:
            result = self.launch(
                render_command(holdout.command, values),
                cwd=cwd,
                env=env,
                timeout=holdout.timeout,
                logs=log_dir,
                view=view,
                diagnose=experiment.is_baseline,
            )
        finally:
            if given is not None:
                consumed.remove(given, self.anchor)
        if holdout.scorer is not None:  # what the candidate's code printed does not count
            return score_holdout(self, result, log_dir=log_dir, output_dir=output_dir, values=values, env=env)
        evaluation = self.read(result, cwd, metric=holdout, timeout=holdout.timeout)
        if holdout.json_file is not None:  # read; it must not stay where later runs (params mode) can read it
            with contextlib.suppress(OSError, safeio.UnsafePath):
                integrity.remove_stale(cwd, holdout.json_file)
        return evaluation

    def profile(self, experiment: Experiment) -> str:
        """Run [profile] on EXPERIMENT in the experiments' sandbox, on a fresh checkout; its top entries."""
        profile = self.spec.profile
        assert profile is not None
        root = self.fresh_root(experiment, self.root_for(experiment, experiment))
        log_dir = self.log_dir(experiment) / "profile"
        try:
            output_dir = safeio.fresh_dir(log_dir / "output", self.anchor)
            values = self.placeholder_values(experiment, proposal_of(experiment), log_dir)
        except safeio.UnsafePath as exc:
            return f"(no profile: {exc})"
        values["output_dir"] = str(output_dir)
        readable = (Path(values["params_file"]),) if "params_file" in values else ()
        result = self.launch(
            render_command(profile.command, values),
            cwd=root / self.spec.run.cwd,
            env=self._env(experiment, proposal_of(experiment), values),
            timeout=profile.timeout,
            logs=log_dir,
            view=sandbox.View(root, writable=(output_dir,), readable=readable),
        )
        redactor = feedback.Redactor(self.spec.holdout.metric if self.spec.holdout else None)
        if not result.succeeded:
            why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            tail = redactor.lines(read_tail(result.stderr_path, 300, whole_lines=True)).strip().splitlines()
            return f"(the profile failed, {why}" + (f": {tail[-1]})" if tail else ")")
        output, _ = self.stdout_of(result)
        return feedback.top_entries(redactor.lines(output), profile.top, profile.chars)

    def check_guards(
        self,
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
        for guard in self.spec.guard:
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
            root = self.fresh_root(experiment, root)  # nothing the run left (a conftest.py) reaches the guard
            refused = self.hooks.refuse(root, self.anchor) if self.hooks is not None else None
            if refused is not None:
                return f"guard {guard.name} not run: {refused}"
            cwd = root / self.spec.run.cwd
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", guard.name)
            readable = (Path(values["params_file"]),) if "params_file" in values else ()
            try:
                output_dir = safeio.fresh_dir(log_dir / f"guard-{slug}.output", self.anchor)
                result = self.launch(
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

    def read(
        self,
        result: RunResult,
        cwd: Path,
        metric: MetricSection | HoldoutSection | None = None,
        timeout: float | None = None,
    ) -> Evaluation:
        evaluation = Evaluation(exit_code=result.exit_code, duration=result.duration)
        output, replaced = self.stdout_of(result)
        m = metric or self.spec.metric
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
            max_bytes=self.spec.run.max_log_size,
        )
        if replaced is not None:
            measured.error, measured.objective = replaced, None
        evaluation.metrics = measured.metrics
        if measured.ambiguous:  # a curve is not; a counted value that does not follow from it is
            evaluation.extra["flags"] = list(measured.ambiguous.values())
        if result.error is not None:
            evaluation.error = result.error
        elif result.timed_out:
            evaluation.error = f"timed out after {timeout or self.spec.run.timeout:g}s"
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

    def stdout_of(self, result: RunResult) -> tuple[str, str | None]:
        """The run's stdout log, read no further than the cap it was written under (plus the cap's
        note); with why it cannot be read when it is larger (a run replaced it: `none` lets it)."""
        try:
            data = safeio.read_capped(result.stdout_path, self.anchor, self.spec.run.max_log_size + 4096)
        except safeio.TooLarge:
            return "", f"metric unreadable: {result.stdout_path.name} is larger than autoresearch wrote it"
        except (OSError, safeio.UnsafePath):
            return "", None
        return data.decode(errors="replace"), None

    def cancel_all(self) -> None:
        self.runner.cancel_all()
        self.running.kill_all()


def _plain_dir(path: Path) -> bool:
    """PATH is a real folder, not a link a run planted in its place."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def aggregate(runs: list[tuple[Evaluation, int]], count: int) -> Evaluation:
    """One evaluation from several repeats: the mean of each metric, the values and spread in extra."""
    failed = next(((e, seed) for e, seed in runs if e.error is not None), None)
    if failed is not None:
        evaluation, seed = failed
        evaluation.error = f"repeat {len(runs)}/{count} (seed {seed}) failed: {evaluation.error}"
        return evaluation
    evaluations = [e for e, _ in runs]
    observed: dict[str, Any] = {k: evaluations[0].extra[k] for k in ("feedback", "series") if k in evaluations[0].extra}
    flags = sorted({flag for e in evaluations for flag in e.extra.get("flags", [])})
    objectives = [e.objective for e in evaluations if e.objective is not None]
    shared = set.intersection(*(set(e.metrics) for e in evaluations))
    mean = statistics.fmean(objectives)
    std = statistics.stdev(objectives)
    return Evaluation(
        metrics={k: statistics.fmean(e.metrics[k] for e in evaluations) for k in sorted(shared)},
        objective=mean,
        exit_code=evaluations[-1].exit_code,
        duration=sum(e.duration for e in evaluations),
        extra={
            "repeats": objectives,
            "seeds": [seed for _, seed in runs],
            "std": std,
            "stderr": std / math.sqrt(len(objectives)),
            **({"flags": flags} if flags else {}),
            **observed,  # the first repeat's feedback and curves (its logs are the experiment's own)
        },
    )
