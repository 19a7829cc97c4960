"""The loop, top to bottom:

    current best -> propose a change -> run the experiment -> read the metric -> keep or revert
         ^                                                                          |
         +--------------------------------------------------------------------------+

Everything else plugs in behind small interfaces: a `Proposer` proposes, an `Evaluator` materialises
and runs a candidate, `judge` decides, the `Store` records. The store is the truth: a row is written
before an experiment runs and completed after it ends, so `kill -9` at any moment loses at most the
experiments that were running, and resume re-runs those, never anything that finished.
"""

from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autoresearch.core import diskfull, safeio
from autoresearch.core.choice import Choice
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import INCUMBENT, Decision, Experiment
from autoresearch.core.proposal import Proposal, ProposalError, SearchExhausted, Stop, WaitForResults
from autoresearch.core.space import params_key
from autoresearch.core.tampered import Tampered
from autoresearch.engine import judge, paired, resume, tamper
from autoresearch.engine.budget import Budget
from autoresearch.execute import reaper, sandbox
from autoresearch.execute.code import CodeEvaluator
from autoresearch.execute.command import CommandEvaluator
from autoresearch.execute.evaluate import Evaluator
from autoresearch.execute.parallel import DUPLICATE_RETRIES, Parallel
from autoresearch.execute.resources import plan_slots
from autoresearch.propose import make_proposer
from autoresearch.propose.base import Context, Proposer
from autoresearch.propose.failures import FailureStreak
from autoresearch.search import make_policy
from autoresearch.search.archive import Archive
from autoresearch.spec import Spec
from autoresearch.store.database import RunLock, Store
from autoresearch.store.history import History

# Proposal.extra entries saved as files with the experiment rather than in the store.
TRANSCRIPT_KEYS = ("prompt", "response", "agent_stderr")


@dataclass
class Outcome:
    best: Experiment | None
    baseline: Experiment | None
    stopped: str  # why the loop ended, in words
    experiments: int  # rows in the store, all decisions
    interrupted: int = 0  # experiments stopped by Ctrl-C, left `running` to be re-run on resume
    confirmation: str = ""  # best vs baseline re-measured on interleaved pairs (noise.confirm), in words
    failed: bool = False  # it stopped on an error to fix (e.g. a proposer failing again and again)


class Observer(Protocol):
    """Progress display: told when the study starts, each time an experiment ends, and at the end."""

    def started(self, loop: Loop) -> None: ...

    def finished(self, loop: Loop, experiment: Experiment) -> None: ...

    def stopped(self, loop: Loop, outcome: Outcome) -> None: ...


class StoreTampered(Tampered):
    """Another process wrote the study store while experiments ran; the message says what to do."""


def baseline_proposal(spec: Spec) -> Proposal:
    """The unchanged system: parameter defaults (params mode) or no edits (code mode)."""
    if spec.mode == "params":
        return Proposal(params={n: p.baseline_value() for n, p in spec.params.items()}, rationale="baseline")
    return Proposal(rationale="baseline")


def make_evaluator(spec: Spec) -> Evaluator:
    """What is materialised (a params file, a git worktree); where it runs is `run.executor`'s."""
    if spec.mode == "code":
        return CodeEvaluator(spec)
    return CommandEvaluator(spec)


class Loop:
    def __init__(
        self,
        spec: Spec,
        *,
        proposer: Proposer | None = None,
        evaluator: Evaluator | None = None,
        observer: Observer | None = None,
        baseline: Proposal | None = None,
        workers: int | None = None,
        accept_spec_change: bool = False,
    ) -> None:
        self.spec = spec
        self.direction = spec.study.direction
        self._proposer = proposer
        self.evaluator: Evaluator = evaluator or make_evaluator(spec)
        self.referee = judge.Referee(spec, self.evaluator)  # noise rule, integrity, holdout, rechecks
        # Each slot owns disjoint GPUs/CPUs; fewer workers than asked when the devices do not fit.
        plan = plan_slots(spec.run, workers or spec.run.workers)
        self.workers, self.notes = plan.workers, [plan.note] if plan.note else []
        self.evaluator.use_slots(plan.slots)
        self.parallel = Parallel(self.evaluator, spec.mode)  # no duplicates; re-based follow-ups
        self.observer = observer
        self.baseline_proposal = baseline or baseline_proposal(spec)
        self.store: Store
        self.proposer: Proposer
        # Finished experiments in the order they finished, holdout values stripped: what proposers see.
        # Proposers see no holdout values, nor a metric named like the holdout's in a run's own output.
        self.history = History(
            self.direction,
            holdout_metric=spec.holdout.metric if spec.holdout else None,
            objectives=spec.metric.objectives,  # several: the history keeps their Pareto front
        )
        # The experiment tree (baseline, global best, stagnation), and the policy that searches it.
        self.archive = Archive(self.history)
        self.policy = make_policy(spec, self.archive)
        self._heads: dict[str, int] = {}  # lineage heads last handed to the evaluator: name -> experiment id
        self.budget = Budget(spec, self.archive)  # experiments, time and spend used, and the limits
        self._in_flight: dict[Future[Evaluation], tuple[Experiment, Proposal, int | None]] = {}
        self._free_slots = list(range(self.workers))
        self._tried: dict[str, int] = {}  # params already run (or running) -> the experiment's id
        self._accept_spec_change = accept_spec_change
        self._interrupted = 0
        self._tampered = False  # stopped on a tamper: an error to look into, not a finished study
        self._attempted: set[int] = set()  # experiments this run started (or re-ran): attempts it counted
        self._failures = FailureStreak()  # the proposer's failures in a row (this run only)
        self._store_fingerprint: tuple[int, int] = (0, 0)  # who last wrote the store: see _check_store

    @property
    def best(self) -> Experiment | None:
        """The global best: what the study branch, `best` and `apply` follow."""
        return self.archive.best

    @property
    def baseline(self) -> Experiment | None:
        return self.archive.baseline

    @property
    def since_improvement(self) -> int:
        return self.archive.since_improvement

    @property
    def elapsed(self) -> float:
        return self.budget.elapsed

    # -- the study, start to end -------------------------------------------------------------------

    def run(self) -> Outcome:
        with RunLock(self.spec.study_dir):  # a second `run` on this study fails here, naming the holder
            self.store = Store(self.spec.study_dir)
            try:
                self.store.set_meta("direction", self.direction)  # for readers without the spec (dashboard)
                self.store.set_meta("study", self.spec.name)
                self.store.set_meta("search_policy", self.policy.name)
                self.store.set_meta("sandbox", sandbox.resolve_kind(self.spec))  # status and the report warn on none
                self._store_fingerprint = self.store.writer_fingerprint()
                self._load_history()
                # Before anything runs: a changed spec stops here unless accepted.
                measured = self.baseline is not None
                self.notes += resume.check_spec(
                    self.spec, self.store, baseline_measured=measured, accept=self._accept_spec_change
                )
                self.evaluator.prime(self.history)
                self.proposer = self._proposer or make_proposer(self.spec, self.history)
                if self.observer:
                    self.observer.started(self)
                with reaper.subreaper():  # what escapes an experiment's process group comes back to be killed
                    stopped = self._run_until_budget()
                    confirmation = self._confirm() if self.spec.noise.confirms and not self._interrupted else ""
                self.evaluator.close()  # e.g. remove code mode's worktrees; the next run recreates them
                outcome = Outcome(self.best, self.baseline, stopped, self.budget.rows, self._interrupted, confirmation)
                outcome.failed = self._failures.stop_reason != "" or self._tampered
                if self.observer:
                    self.observer.stopped(self, outcome)
                return outcome
            finally:
                self.budget.save(self.store)
                self.store.close()

    def _run_until_budget(self) -> str:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="experiment")
        try:
            self._check_git([])  # on resume: what happened to the branch and the best's objects meanwhile
            self._rerun_interrupted(pool)
            ready: Proposal | Stop | None = None
            if self.baseline is None and not self._in_flight:
                cannot_start = self.evaluator.preflight()  # before the budget is spent on a doomed baseline
                if cannot_start:
                    return f"stopped before the baseline: {cannot_start}; fix it and run again"
                self._start(pool, self.baseline_proposal, is_baseline=True)
                if self._pipelined:  # a slow proposer prepares the first candidate meanwhile
                    ready = self._propose()
                self._wait_for_one()  # every candidate is judged against the baseline
            if self.baseline is None:
                failed = self.history[-1] if self.history else None
                where = f" (logs: {failed.log_dir})" if failed and failed.log_dir else ""
                hint = self.evaluator.baseline_hint(failed)
                return (
                    f"the baseline failed: {failed.reason if failed else 'not run'}{where}"
                    + (f". {hint}" if hint else "")
                    + "; fix it and run again (the next run retries the baseline)"
                )
            stopped = ready.reason if isinstance(ready, Stop) else ""
            ready = None if isinstance(ready, Stop) else ready
            while True:
                while not stopped and len(self._in_flight) < self.workers:
                    stopped = self.budget.exhausted()
                    if stopped:
                        break
                    proposed, ready = ready or self._propose(), None
                    if proposed is None:  # the proposer only repeats running candidates: wait for one
                        break
                    if isinstance(proposed, Stop):
                        stopped = proposed.reason
                        break
                    self._start(pool, proposed)
                    stopped = self._failures.stop_reason
                if self._pipelined and not stopped and ready is None and not self.budget.exhausted():
                    # Propose the next candidate while the experiment runs, so a slow proposer (an
                    # LLM) does not leave the machine idle between experiments.
                    ready = self._propose()
                    if isinstance(ready, Stop):
                        stopped, ready = ready.reason, None
                if not self._in_flight:
                    return stopped
                self._wait_for_one()
        except KeyboardInterrupt:
            self._interrupt()
            return "interrupted (Ctrl-C); run again to resume"
        except Tampered as exc:  # nothing more is decided on a record someone else rewrote
            self.evaluator.cancel_all()
            self._in_flight.clear()
            tamper.record(self.store, exc.finding)  # `best` and `apply` refuse from now on; `status` says why
            self._tampered = True
            return str(exc)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- propose -----------------------------------------------------------------------------------

    @property
    def _pipelined(self) -> bool:
        """Propose ahead while experiments run: by default for slow proposers (LLMs, agents) only,
        since a sampler proposing ahead would not see the latest result."""
        if self.spec.proposer.pipeline is not None:
            return self.spec.proposer.pipeline
        return bool(getattr(self.proposer, "slow", False))

    def context(self, choice: Choice | None = None) -> Context:
        """What the proposer may see: never holdout values. The history is shared, not copied.

        CHOICE is the policy's (default: build on the best): its parent is what `check` and `files`
        are about, and what the proposer is shown with its lineage."""
        choice = choice or Choice(parent=self.best)
        best = self.history.get(self.best.id) if self.best else None  # its holdout-free copy
        parent = self.archive.get(choice.parent.id) if choice.parent else None
        pending = [proposal for _, proposal, _ in self._in_flight.values()]
        return Context(
            self.spec,
            self.history,
            best,
            pending,
            self.since_improvement,
            check=lambda proposal: self.evaluator.check(proposal, parent),
            files=self.evaluator.files(parent),
            parent=parent,
            lineage=self.archive.lineage(parent),
            task=choice.task,
            note=choice.note,
        )

    def _propose(self) -> Proposal | Stop | None:
        """The next proposal, or why there is none (Stop: the study then stops; running ones finish).

        None: the proposer only repeated running candidates; wait for one to end, then ask again.
        """
        followup = self.parallel.next_followup()  # a kept candidate re-based onto the best it passed
        if followup is not None:
            followup.extra["search"] = {"task": "rebase"}
            return followup
        for _ in range(DUPLICATE_RETRIES):
            choice = self.policy.choose([e for e, _, _ in self._in_flight.values()])
            context = self.context(choice)
            try:
                proposal = self.proposer.propose(context)
            except SearchExhausted as exc:
                return Stop(str(exc))
            except WaitForResults:  # its next idea builds on a running candidate
                return None if self._in_flight else Stop("the proposer waits for results, but nothing is running")
            except ProposalError as exc:  # e.g. the LLM is unreachable after its retries
                return Stop(f"the proposer failed: {exc}; run again to resume")
            if proposal.parent_id is None:  # the parent is explicit from here on: recorded, built on, judged
                proposal.parent_id = choice.parent.id if choice.parent else None
            proposal.extra["search"] = {**choice.record(), **proposal.extra.get("search", {})}
            running = [(e, p) for e, p, _ in self._in_flight.values()]
            duplicate = self.parallel.running_duplicate(proposal, proposal.parent_id, running)
            if duplicate is None:
                if proposal.rejected_reason is None:
                    proposal.rejected_reason = self.policy.admit(proposal, choice, context)  # e.g. too like a tried one
                return proposal
            if proposal.tokens_in or proposal.cost_usd:  # it cost something: record it, do not run it
                proposal.rejected_reason = f"duplicate of experiment #{duplicate}, which is running"
                return proposal
        return None  # only repeats of running candidates so far: ask again when one has finished

    # -- run ---------------------------------------------------------------------------------------

    def _start(
        self,
        pool: ThreadPoolExecutor,
        proposal: Proposal,
        *,
        is_baseline: bool = False,
    ) -> None:
        """Record the candidate as `running` (with the policy's state after choosing it), then hand it
        to a worker."""
        if proposal.params is not None and proposal.rejected_reason is None:
            earlier = self._tried.get(params_key(proposal.params))
            if earlier is not None:  # whatever the proposer, the same parameters never run twice
                proposal.rejected_reason = f"duplicate of experiment #{earlier}: these parameters were already tried"
        parent = proposal.parent_id if proposal.parent_id is not None else (self.best.id if self.best else None)
        experiment = self.store.start_experiment(
            proposal=proposal.to_record(),
            parent_id=None if is_baseline else parent,
            proposer="baseline" if is_baseline else self.proposer.name,
            strategy=proposal.strategy,
            rationale=proposal.rationale,
            params=proposal.params,
            tokens_in=proposal.tokens_in,
            tokens_out=proposal.tokens_out,
            cost_usd=proposal.cost_usd,
            is_baseline=is_baseline,
            extra={k: v for k, v in proposal.extra.items() if k not in TRANSCRIPT_KEYS}
            | ({"proposer_failed": True} if proposal.proposer_failed else {}),
            meta={resume.POLICY_STATE: json.dumps({"policy": self.policy.name, "state": self.policy.state()})},
        )
        self.budget.started(proposal.cost_usd)
        self._attempted.add(experiment.id)
        proposal.experiment_id = experiment.id
        if not is_baseline:
            self._failures.observe(self.proposer.name, proposal.proposer_failed, proposal.rejected_reason)
        log_dir = self.evaluator.log_dir(experiment)
        if log_dir is not None:  # known before it runs, so live views can follow its logs
            self.store.update(experiment.id, log_dir=str(log_dir))
            experiment.log_dir = str(log_dir)
            self._save_transcript(log_dir, proposal)
        if proposal.params is not None and proposal.rejected_reason is None:
            self._tried[params_key(proposal.params)] = experiment.id
        self._submit(pool, experiment, proposal)

    def _save_transcript(self, folder: Path, proposal: Proposal) -> None:
        """Prompts and responses that produced a proposal go to files beside the experiment's logs
        (written without following a link a run may have planted there)."""
        for key in TRANSCRIPT_KEYS:
            if key in proposal.extra:
                value = proposal.extra[key]
                text = value if isinstance(value, str) else json.dumps(value, indent=2)
                name = f"{key}.{'md' if isinstance(value, str) else 'json'}"
                with contextlib.suppress(safeio.UnsafePath):
                    safeio.write_text(folder / name, text, self.spec.root)

    def _submit(self, pool: ThreadPoolExecutor, experiment: Experiment, proposal: Proposal) -> None:
        if proposal.rejected_reason is not None:  # invalid from the start: recorded, never run, never pending
            self._conclude(experiment, proposal, Evaluation(rejected=proposal.rejected_reason))
            return
        slot = self._free_slots.pop()  # each running experiment has its own worktree / slot
        future = pool.submit(self.evaluator.evaluate, experiment, proposal, slot)
        self._in_flight[future] = (experiment, proposal, slot)

    def _wait_for_one(self) -> None:
        done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
        self._check_store()
        self._check_git([self._in_flight[future][0] for future in done])
        for future in sorted(done, key=lambda f: self._in_flight[f][0].id):
            experiment, proposal, slot = self._in_flight.pop(future)
            if slot is not None:
                self._free_slots.append(slot)
            try:
                evaluation = future.result()
            except Tampered:
                raise  # a rewritten git object: nothing more is built on this repository
            except Exception as exc:  # a bug or an OS error while materialising: the study goes on
                if diskfull.disk_full(exc):  # the machine's fault, not the candidate's: stop, record nothing
                    self.evaluator.cancel_all()
                    raise
                evaluation = Evaluation(error=f"autoresearch could not run it: {type(exc).__name__}: {exc}")
            self._conclude(experiment, proposal, evaluation)

    def _check_store(self) -> None:
        """Only this loop writes the store while it runs (RunLock); a write by anyone else means a run
        (without a sandbox that hides the store) tampered with the study's record: stop, decide nothing."""
        if self.store.writer_fingerprint() != self._store_fingerprint:
            running = ", ".join(f"#{e.id}" for e, _, _ in self._in_flight.values()) or "none"
            raise StoreTampered(
                f"stopped: another process wrote the study store {self.store.path} while experiments ran "
                f"(running: {running}); nothing was decided from it. Inspect it (autoresearch log), use "
                'sandbox.kind = "bwrap" so runs cannot reach the store, and run again to resume',
                f"another process wrote the study store while experiments ran (running: {running})",
            )

    def _check_git(self, finished: list[Experiment]) -> None:
        """Code mode: a run (under sandbox kind "none") moved the study branch or rewrote a git object of
        the best's or a finished experiment's commit: stop, decide nothing (the branch is put back)."""
        problem = self.evaluator.tampered(self.best, finished)
        if problem:
            raise Tampered(f"stopped: {problem}. Nothing was decided from it; see `autoresearch status`", problem)

    # -- judge and record --------------------------------------------------------------------------

    def _conclude(self, experiment: Experiment, proposal: Proposal, evaluation: Evaluation) -> None:
        """Decide baseline / kept / reverted / failed / rejected, and record it."""
        became_best = False  # the global best from now on (store.database.incumbent_of)
        if evaluation.rejected is not None:
            decision, reason = Decision.REJECTED, evaluation.rejected
        elif evaluation.pruned is not None:  # its curve was losing: stopped early, never kept
            decision, reason = Decision.PRUNED, evaluation.pruned
        elif evaluation.error is not None or evaluation.objective is None:
            decision, reason = Decision.FAILED, evaluation.error or "no objective"
        elif experiment.is_baseline:
            decision, reason, became_best = Decision.BASELINE, "the unchanged system", True
            self.referee.baseline(experiment, evaluation)
        else:
            incumbent = self.policy.incumbent(experiment)  # the global best, or e.g. an island's
            if incumbent is not None:  # as stored, whatever view the policy holds: its holdout is compared
                incumbent = self.store.get(incumbent.id)
            decision, reason = self.referee.decide(experiment, evaluation, incumbent, self.history)
            search = experiment.extra.get("search", {})
            search["incumbent"] = incumbent.id if incumbent else None
            experiment.extra["search"] = search
            became_best = decision == Decision.KEPT and self.archive.beats_best(evaluation.objective, incumbent)
            if decision == Decision.KEPT and self.policy.rebases:  # built on an older best? queue it re-based
                reason += self.parallel.after_kept(experiment, self.best)
        self.store.finish_experiment(
            experiment.id,
            decision=decision,
            became_best=became_best,
            reason=reason,
            metrics=evaluation.metrics,
            objective=evaluation.objective,
            exit_code=evaluation.exit_code,
            duration=evaluation.duration,
            extra={**experiment.extra, **evaluation.extra},
            **evaluation.record,
        )
        finished = self.store.get(experiment.id)
        if decision in INCUMBENT and self.spec.profile is not None:
            finished = self._profile(finished)
        best = self.best
        self.policy.observe(self.archive.add(finished))
        if self.best is not best and self.best is not None:
            self.evaluator.keep(finished)  # code mode: the study branch follows the global best
        self._follow_heads()
        self.budget.save(self.store)
        self.proposer.observe(finished)
        if self.observer:
            self.observer.finished(self, finished)

    def _follow_heads(self) -> None:
        """Code mode: each lineage head the policy names stays reachable as a git ref (only changes)."""
        heads = self.policy.heads()
        changed = {name: e for name, e in heads.items() if self._heads.get(name) != e.id}
        if changed:
            self.evaluator.heads(changed)
            self._heads = {name: e.id for name, e in heads.items()}
            self.store.set_meta("search_heads", json.dumps(self._heads))  # for status and the report

    def _profile(self, incumbent: Experiment) -> Experiment:
        """Where the new incumbent spends its time ([profile]), for proposers; never part of a decision."""
        text = self.evaluator.profile(incumbent)
        self.store.update(incumbent.id, extra={**incumbent.extra, "profile": text})
        return self.store.get(incumbent.id)

    # -- the end ---------------------------------------------------------------------------------------

    def _confirm(self) -> str:
        """Best vs baseline on interleaved pairs: the improvement without the winner's curse (paired.py)."""
        if self.best is None or self.baseline is None or self.best.id == self.baseline.id:
            return ""
        try:
            result = paired.confirm(self.spec, self.store, self.evaluator)
        except KeyboardInterrupt:
            self.evaluator.cancel_all()
            return "confirmation interrupted; run `autoresearch confirm` to measure it"
        return result if isinstance(result, str) else paired.shown_text(result, self.store)

    # -- resume ------------------------------------------------------------------------------------

    def _load_history(self) -> None:
        """The archive (best, baseline, stagnation), the policy, the budget's counts and the params tried,
        as the store has them (resume.py)."""
        replayed = resume.replay(self.store, self.archive, self.policy)
        self.budget.resume(self.store, replayed.rows, replayed.spent)
        self._tried = replayed.tried
        self.referee.holdout_spent += replayed.holdout_decisions

    def _rerun_interrupted(self, pool: ThreadPoolExecutor) -> None:
        """Re-run, once, the experiments a crash left `running`; they keep their ids."""
        for experiment, proposal in resume.left_running(self.store):
            while not self._free_slots:  # more were running than this run has workers
                self._wait_for_one()
            self.store.update(experiment.id, attempts=experiment.attempts + 1, started_at=time.time())
            self._attempted.add(experiment.id)
            self._submit(pool, self.store.get(experiment.id), proposal)
            if experiment.is_baseline:
                self._wait_for_one()

    def _interrupt(self) -> None:
        """Ctrl-C: stop running experiments and leave them to be re-run on resume.

        A user's interrupt is not a crash, so it does not count towards resume.MAX_ATTEMPTS.
        """
        self.evaluator.cancel_all()
        self._in_flight.clear()
        # Rows left `running`: those in flight, and one recorded but not yet handed to a worker when
        # Ctrl-C came. The attempts this run counted for them are taken back.
        running = self.store.experiments(status="running")
        for experiment in running:
            if experiment.id in self._attempted:
                self.store.update(experiment.id, attempts=max(experiment.attempts - 1, 0))
        self._interrupted = len(running)
