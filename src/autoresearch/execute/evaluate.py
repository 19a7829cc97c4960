"""Evaluating one candidate: what an evaluation is, and what every evaluator can be asked.

Two separate choices make an evaluator. *What is materialised*: a params file in the user's folder
(`command.py`'s `CommandEvaluator`) or a commit checked out in a git worktree (`code.py`'s
`CodeEvaluator`). *Where it runs*: an executor (`executor.py`), here (`local`), on Ray, on Slurm, or
any other registered one. The evaluator prepares jobs and interprets their results; the executor only
runs them. Every process either starts goes through `CommandEvaluator.launch`, the one sandbox.
"""

from __future__ import annotations

import math
import os
import stat
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute.prune import MAX_INCUMBENT_CURVES
from autoresearch.execute.resources import Slot


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


def plain_dir(path: Path) -> bool:
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
    observed: dict[str, Any] = {
        k: evaluations[0].extra[k]
        for k in ("feedback", "series", "prune_curve", "prune_idle")
        if k in evaluations[0].extra
    }
    curves = [e.extra["prune_curve"] for e in evaluations if "prune_curve" in e.extra]
    if len(curves) > 1:  # every repeat's curve: how much the runs' curves move ([prune] rule = "incumbent")
        observed["prune_curves"] = curves[:MAX_INCUMBENT_CURVES]
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
