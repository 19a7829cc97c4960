"""In-process use: `optimize(fitness_fn, initial_state, ...)`, the same loop with Python callables.

The fitness function plays the experiment and `propose_fn` (or a default numeric perturbation)
plays the proposer; the store, the judge and resume are the loop's own.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autoresearch.core.direction import DIRECTIONS
from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, ProposalError
from autoresearch.engine.loop import Loop
from autoresearch.execute.evaluate import Evaluator
from autoresearch.propose.base import Context
from autoresearch.spec import BudgetSection, MetricSection, RunSection, Spec, StudySection
from autoresearch.store.database import Store

History = list[dict[str, Any]]
FitnessFn = Callable[[Any], float]
ProposeFn = Callable[[Any, History], Any]


def _record(state: Any) -> dict[str, Any]:
    """How a state is stored: as itself when JSON can hold it, else by its repr."""
    try:
        json.dumps(state)
        return {"state": state}
    except (TypeError, ValueError):
        return {"state_repr": repr(state)}


def perturb(state: Any, rng: random.Random, scale: float = 0.1) -> Any:
    """A small random change to every number in STATE (a number, or a list/dict of them)."""
    if isinstance(state, bool):
        return state
    if isinstance(state, int):
        return state + rng.choice((-1, 1)) * max(1, round(abs(state) * scale * rng.random()))
    if isinstance(state, float):
        return state + rng.gauss(0.0, scale * max(abs(state), 1.0))
    if isinstance(state, list | tuple):
        return type(state)(perturb(v, rng, scale) for v in state)
    if isinstance(state, dict):
        return {k: perturb(v, rng, scale) for k, v in state.items()}
    raise ProposalError(f"no default way to change a {type(state).__name__}; pass propose_fn")


class _States:
    """The live Python objects behind each experiment (the store keeps their JSON or repr)."""

    def __init__(self) -> None:
        self.by_id: dict[int, Any] = {}
        self.pending: dict[int, Any] = {}  # id(proposal) -> state, until the experiment has an id


class _CallableProposer:
    def __init__(self, states: _States, propose_fn: ProposeFn | None, seed: int) -> None:
        self.name = "python" if propose_fn else "perturb"
        self.states = states
        self.propose_fn = propose_fn
        self.rng = random.Random(seed)
        self._history: History = []  # the callable's view of context.history, extended as that grows

    def propose(self, context: Context) -> Proposal:
        assert context.parent is not None
        best_state = self.states.by_id[context.parent.id]
        if self.propose_fn is None:
            state = perturb(best_state, self.rng)
        else:
            # Only the experiments finished since the last call are converted; the callable gets a
            # shallow copy (a pointer copy), so changing it cannot change what the next call sees.
            self._history += _history(context.history[len(self._history) :], self.states)
            state = self.propose_fn(best_state, list(self._history))
        proposal = Proposal(params=_record(state), rationale=self.name)
        self.states.pending[id(proposal)] = state
        return proposal

    def observe(self, experiment: Experiment) -> None:
        """The callable sees the full history on each call."""


class _CallableEvaluator(Evaluator):
    def __init__(self, states: _States, fitness_fn: FitnessFn) -> None:
        self.states = states
        self.fitness_fn = fitness_fn

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        state = self.states.pending.pop(id(proposal), None)
        if state is None:  # resumed from the store: only JSON states can be re-created
            if proposal.params is None or "state" not in proposal.params:
                return Evaluation(error="the state of this experiment could not be restored")
            state = proposal.params["state"]
        self.states.by_id[experiment.id] = state
        try:
            value = float(self.fitness_fn(state))
        except Exception as exc:  # the user's function failing is a failed experiment, not a crash
            return Evaluation(error=f"fitness_fn raised {type(exc).__name__}: {exc}")
        if not math.isfinite(value):
            return Evaluation(error=f"fitness_fn returned {value}")
        return Evaluation(metrics={"score": value}, objective=value)


def _history(experiments: Sequence[Experiment], states: _States) -> History:
    return [
        {"id": e.id, "state": states.by_id.get(e.id), "score": e.objective, "decision": e.decision} for e in experiments
    ]


def optimize(
    fitness_fn: FitnessFn,
    initial_state: Any,
    propose_fn: ProposeFn | None = None,
    max_iterations: int = 100,
    direction: str = "minimize",
    storage: str | Path | None = None,
    *,
    seed: int = 0,
) -> tuple[Any, float, History]:
    """Improve INITIAL_STATE under FITNESS_FN; returns (best_state, best_score, history).

    `propose_fn(best_state, history) -> new_state` proposes candidates (default: perturb every number).
    `storage` is a folder for the study store (default: a temporary one); with it, a second call
    resumes the study instead of starting over. `max_iterations` counts fitness evaluations,
    the initial state's included.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize', not {direction!r}")
    temporary = tempfile.TemporaryDirectory(prefix="autoresearch-") if storage is None else None
    root = Path(temporary.name if temporary else storage)  # type: ignore[arg-type]
    spec = Spec.model_construct(
        study=StudySection(name="optimize", direction=direction, seed=seed),  # type: ignore[arg-type]
        run=RunSection.model_construct(command="(python fitness_fn)"),
        metric=MetricSection(name="score"),
        params={},
        code=None,
        budget=BudgetSection(experiments=max_iterations),
        root=root.resolve(),
    )
    states = _States()
    baseline = Proposal(params=_record(initial_state), rationale="initial state")
    states.pending[id(baseline)] = initial_state
    loop = Loop(
        spec,
        proposer=_CallableProposer(states, propose_fn, seed),
        evaluator=_CallableEvaluator(states, fitness_fn),
        baseline=baseline,
    )
    try:
        for experiment in _restore(spec):
            states.by_id[experiment.id] = (experiment.params or {}).get("state")
        outcome = loop.run()
        if outcome.best is None or outcome.best.objective is None:
            raise RuntimeError("fitness_fn failed on the initial state; nothing to improve from")
        return states.by_id[outcome.best.id], outcome.best.objective, _history(loop.history, states)
    finally:
        if temporary:
            temporary.cleanup()


def _restore(spec: Spec) -> list[Experiment]:
    """Experiments of an existing study at spec's storage, so a resumed call knows their states."""
    if not (spec.study_dir / "study.db").exists():
        return []
    store = Store(spec.study_dir)
    try:
        return store.experiments(status="done")
    finally:
        store.close()
