"""Evaluating one candidate: materialise it, run the experiment command, read its metrics."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoresearch.metrics import measure
from autoresearch.propose.base import Proposal
from autoresearch.propose.samplers import validate_params
from autoresearch.run.process import RunResult, experiment_env, read_tail, run_command
from autoresearch.run.resources import Slot
from autoresearch.spec import Spec
from autoresearch.store import Experiment
from autoresearch.workspace.params import params_env, render_command, write_params_file


@dataclass
class Evaluation:
    """What running a candidate produced. `error` set means the experiment failed."""

    metrics: dict[str, float] = field(default_factory=dict)
    objective: float | None = None
    error: str | None = None
    rejected: str | None = None  # a rule was broken (guard, integrity): rejected, whatever the metric
    exit_code: int | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # more store columns: diff, commit_sha, holdout


class Evaluator:
    """Materialises and runs candidates. Subclasses implement `evaluate`; the rest is optional."""

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        raise NotImplementedError

    def check(self, proposal: Proposal) -> str | None:
        """Why PROPOSAL cannot be run (bad params, edits that do not apply), or None."""
        return None

    def keep(self, experiment: Experiment) -> None:
        """EXPERIMENT is the new best (code mode moves the study branch)."""

    def prime(self, history: list[Experiment]) -> None:
        """Learn what the store already holds (on resume)."""

    def use_slots(self, slots: dict[int, Slot]) -> None:
        """The devices (GPUs, CPUs) each slot owns; an experiment run in slot i uses only slots[i]'s."""

    def rebase(self, experiment: Experiment, onto: Experiment) -> Proposal | str:
        """Code mode: EXPERIMENT's edits re-applied onto ONTO as a new proposal, or why they cannot be."""
        return "only code mode re-bases candidates"

    def files(self) -> dict[str, str]:
        """Code mode: the editable files of the current best, for proposers to read."""
        return {}

    def log_dir(self, experiment: Experiment) -> Path | None:
        return None

    def cancel_all(self) -> None:
        """Stop every running experiment now (Ctrl-C)."""


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


class CommandEvaluator(Evaluator):
    """Runs the spec's command for a params-mode candidate (code mode extends `prepare`)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.running = RunningProcesses()
        self.slots: dict[int, Slot] = {}

    def use_slots(self, slots: dict[int, Slot]) -> None:
        self.slots = slots

    def placeholder_values(self, experiment: Experiment, proposal: Proposal) -> dict[str, Any]:
        """What `{name}` placeholders in the command become; writes the params file."""
        values: dict[str, Any] = {
            "experiment_id": experiment.id,
            "seed": self.spec.study.seed,
            "python": sys.executable,  # the interpreter running autoresearch, with its packages
        }
        if proposal.params is not None:
            params_file = write_params_file(
                self.log_dir(experiment) / Path(self.spec.run.params_file).name, proposal.params
            )
            values.update(proposal.params)
            values["params_file"] = str(params_file)
        return values

    def log_dir(self, experiment: Experiment) -> Path:
        return self.spec.study_dir / "experiments" / f"{experiment.id:05d}"

    def check(self, proposal: Proposal) -> str | None:
        if proposal.params is not None:
            return validate_params(self.spec, proposal.params)
        return None

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        reason = self.check(proposal)
        if reason is not None:
            return Evaluation(rejected=reason)
        return self.run_in(self.spec.root, experiment, proposal, slot)

    def run_in(self, root: Path, experiment: Experiment, proposal: Proposal, slot: int | None = None) -> Evaluation:
        """Run the experiment command for PROPOSAL with ROOT as the spec's folder, on SLOT's devices."""
        devices = self.slots.get(slot, Slot()) if slot is not None else Slot()
        values = self.placeholder_values(experiment, proposal)
        cwd = root / self.spec.run.cwd
        log_dir = self.log_dir(experiment)
        env = experiment_env(
            os.environ,
            extra={
                **self.spec.run.env,
                **(params_env(proposal.params) if proposal.params and self.spec.run.params_env else {}),
                "AUTORESEARCH_EXPERIMENT_ID": str(experiment.id),
                "AUTORESEARCH_SEED": str(values["seed"]),
                **({"AUTORESEARCH_PARAMS_FILE": values["params_file"]} if "params_file" in values else {}),
                **devices.env(),
            },
            allow=self.spec.run.pass_env,
        )
        result = run_command(
            render_command(self.spec.run.command, values),
            cwd=cwd,
            env=env,
            timeout=self.spec.run.timeout,
            stdout_path=log_dir / "stdout.log",
            stderr_path=log_dir / "stderr.log",
            max_log_bytes=self.spec.run.max_log_size,
            kill_grace=self.spec.run.kill_grace,
            preexec=devices.preexec(),
            on_start=self.running.add,
            on_exit=self.running.discard,
        )
        evaluation = self.read(result, cwd)
        if evaluation.error is None:
            evaluation.rejected = self.check_guards(evaluation, cwd, env, log_dir, values)
        return evaluation

    def check_guards(
        self, evaluation: Evaluation, cwd: Path, env: dict[str, str], log_dir: Path, values: dict[str, Any]
    ) -> str | None:
        """The first guard the candidate fails, with its name and output tail; None if all pass."""
        for guard in self.spec.guard:
            if guard.metric is not None:
                value = evaluation.metrics.get(guard.metric)
                if value is None:
                    return f"guard {guard.name}: metric {guard.metric} was not reported"
                if guard.max is not None and value > guard.max:
                    return f"guard {guard.name}: {guard.metric} = {value:g} is above max {guard.max:g}"
                if guard.min is not None and value < guard.min:
                    return f"guard {guard.name}: {guard.metric} = {value:g} is below min {guard.min:g}"
                continue
            assert guard.command is not None
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", guard.name)
            result = run_command(
                render_command(guard.command, values),
                cwd=cwd,
                env=env,
                timeout=guard.timeout,
                stdout_path=log_dir / f"guard-{slug}.stdout.log",
                stderr_path=log_dir / f"guard-{slug}.stderr.log",
                kill_grace=self.spec.run.kill_grace,
                on_start=self.running.add,
                on_exit=self.running.discard,
            )
            if not result.succeeded:
                why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
                tail = (read_tail(result.stdout_path, 400) + read_tail(result.stderr_path, 400)).strip()
                last = " | ".join(tail.splitlines()[-3:])
                return f"guard {guard.name} failed ({why}): {last}"
        return None

    def read(self, result: RunResult, cwd: Path) -> Evaluation:
        evaluation = Evaluation(exit_code=result.exit_code, duration=result.duration)
        output = result.stdout_path.read_text(errors="replace")
        m = self.spec.metric
        measured = measure(
            output, metric=m.name, pattern=m.pattern, json_file=m.json_file, objective=m.objective, cwd=cwd
        )
        evaluation.metrics = measured.metrics
        if result.error is not None:
            evaluation.error = result.error
        elif result.timed_out:
            evaluation.error = f"timed out after {self.spec.run.timeout:g}s"
        elif result.exit_code != 0:
            tail = read_tail(result.stderr_path, 300).strip().splitlines()
            evaluation.error = f"exit code {result.exit_code}" + (f": {tail[-1]}" if tail else "")
        elif measured.error is not None:
            evaluation.error = measured.error
        else:
            evaluation.objective = measured.objective
        return evaluation

    def cancel_all(self) -> None:
        self.running.kill_all()
