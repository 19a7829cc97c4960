"""Parameter proposers built on Optuna's samplers (`random`, `tpe`, `cmaes`, `gp`, `nsga2`), via ask/tell.

With several objectives (`[metric] objectives`), the Optuna study is created with one direction per
objective and told every objective's value (Optuna's multi-objective mode; `random`, `tpe`, `gp` and
`nsga2` support it, `cmaes` does not and is refused when the spec is loaded).

The study store is the source of truth: the Optuna study lives in memory and is rebuilt from the
stored history on start. Each ask uses a sampler seeded with a hash of (study seed, number of trials
so far), so a resumed study samples exactly as if it had never stopped, and two studies with
different seeds draw unrelated streams (seed + count would make seed 1 replay seed 0 one trial later).
When the sampler repeats a point already tried, that repeat is told to it and also recorded with the
next proposal (`extra["sampler_repeats"]`), so that the rebuilt study holds the same trials in the same
order: resume stays exact in small discrete spaces, where repeats are common.

Flat cost: the trial count is kept here, never read through `study.trials` (which deep-copies every
trial), and `random`, `tpe` and `cmaes` keep one sampler whose random states are reseeded per ask
(`_reseed`), which draws exactly what a fresh sampler with that seed would, while keeping the caches
(the search space's intersection) that a fresh sampler would rebuild by scanning every trial. What
is left growing with the study is inside the algorithms: TPE and GP fit on all trials. CMA-ES's own
two scans of all trials per ask are replaced by indexes (`flat_samplers.py`).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna._transform import _SearchSpaceTransform
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers._lazy_random_state import LazyRandomState
from optuna.study import StudyDirection
from optuna.trial import TrialState

from autoresearch.core.direction import sign
from autoresearch.core.experiment import Decision, Experiment
from autoresearch.core.proposal import Proposal, ProposalError, SearchExhausted
from autoresearch.core.space import ParamSpec, params_key
from autoresearch.propose.base import Context
from autoresearch.propose.flat_samplers import IndexedCmaEsSampler, WindowedTPESampler
from autoresearch.propose.prompt import fmt_number, fmt_params
from autoresearch.spec import Spec

optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLERS = ("random", "tpe", "cmaes", "gp", "nsga2")
# How many times a sampler may repeat already-tried parameters before the space counts as exhausted.
_MAX_DUPLICATE_DRAWS = 50
# Samplers whose only state besides caches is their random state, so one instance reseeded per ask
# draws what a fresh one would. GP is not among them: it warm-starts its kernel fit from the last ask.
_RESEEDABLE = ("random", "tpe", "cmaes")
TOP_POINTS = 5  # best points `state` shows
Value = float | list[float] | None  # what a trial is told: one objective's value, or each of several


def distribution(param: ParamSpec) -> BaseDistribution:
    if param.type == "categorical":
        assert param.choices is not None
        return CategoricalDistribution(param.choices)
    assert param.low is not None and param.high is not None
    if param.type == "int":
        step = int(param.step) if param.step else 1
        return IntDistribution(int(param.low), int(param.high), log=param.log, step=step)
    return FloatDistribution(param.low, param.high, log=param.log, step=param.step)


def search_space(spec: Spec) -> dict[str, BaseDistribution]:
    return {name: distribution(param) for name, param in spec.params.items()}


def ask_seed(seed: int, trials: int) -> int:
    """The sampler's seed for the ask after TRIALS trials: a hash of both, so streams never overlap."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, trials]).generate_state(1)[0])


def make_sampler(kind: str, seed: int, options: dict[str, Any], n_params: int) -> optuna.samplers.BaseSampler:
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        if "window" in options:  # fit on the most recent trials only (flat_samplers.py)
            window = options["window"]
            if isinstance(window, bool) or not isinstance(window, int) or window < 2:
                raise ProposalError(f"proposer option window = {window!r} must be a whole number of trials, 2 or more")
            rest = {k: v for k, v in options.items() if k != "window"}
            return WindowedTPESampler(window=window, seed=seed, constant_liar=True, **rest)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, **options)
    if kind == "cmaes":
        if n_params < 2:
            # CMA-ES needs two or more dimensions; Optuna falls back to random anyway, say so clearly.
            raise ProposalError("proposer 'cmaes' needs at least two numeric parameters; use 'tpe'")
        return IndexedCmaEsSampler(seed=seed, warn_independent_sampling=False, **options)
    if kind == "gp":
        try:
            # Optional and heavy: whether GP can run is asked only when it is chosen.
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise ProposalError("proposer 'gp' needs torch and scipy: pip install torch scipy (or use 'tpe')") from None
        return optuna.samplers.GPSampler(seed=seed, **options)
    if kind == "nsga2":  # a fresh one per ask: it rebuilds its generations from the study's trials
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
    raise ProposalError(f"unknown sampler {kind!r}; use one of {', '.join(SAMPLERS)}")


def _random_states(sampler: optuna.samplers.BaseSampler) -> list[LazyRandomState]:
    """Every random state a sampler draws from, its fallback samplers' included."""
    states: list[LazyRandomState] = []
    for value in vars(sampler).values():
        if isinstance(value, LazyRandomState):
            states.append(value)
        elif isinstance(value, optuna.samplers.BaseSampler):
            states += _random_states(value)
    return states


def _reseed(sampler: optuna.samplers.BaseSampler, seed: int) -> bool:
    """Put SAMPLER in the random state a fresh one seeded with SEED starts in; False if it has none."""
    states = _random_states(sampler)
    for state in states:
        state.rng.seed(seed)  # what LazyRandomState(seed) does
    return bool(states)


class SamplerProposer:
    """Proposes parameter sets with one of Optuna's samplers."""

    def __init__(
        self, spec: Spec, kind: str, history: Sequence[Experiment], *, options: dict[str, Any] | None = None
    ) -> None:
        self.name = kind
        self.kind = kind
        self.spec = spec
        self.space = search_space(spec)
        # OPTIONS: the sampler's own, when another proposer's options fill [proposer] (the hybrid's LLM).
        given = spec.proposer.options if options is None else options
        self.seed = int(given.get("seed", spec.study.seed))
        self.options = {k: v for k, v in given.items() if k != "seed"}
        self.direction = spec.study.direction
        self.objectives = tuple(spec.metric.objectives or ())  # several: Optuna's multi-objective mode
        self.sampler = make_sampler(kind, self.seed, self.options, len(self.space))  # fails early on a bad option
        self.storage = optuna.storages.InMemoryStorage()
        if self.objectives:
            directions = [
                StudyDirection.MINIMIZE if d == "minimize" else StudyDirection.MAXIMIZE for d in spec.metric.directions
            ]
            self.study = optuna.create_study(storage=self.storage, directions=directions, sampler=self.sampler)
        else:
            self.study = optuna.create_study(storage=self.storage, direction=self.direction, sampler=self.sampler)
        self.trials = 0  # trials in self.study, counted here: `study.trials` would deep-copy them all
        self.tried: dict[str, Value] = {}
        self._pending: dict[str, optuna.trial.Trial] = {}
        self.top: list[tuple[float, int, dict[str, Any]]] = []  # the best TOP_POINTS told, best first
        for experiment in history:
            self._add_finished(experiment)

    # -- history -----------------------------------------------------------------------------------

    def _value(self, experiment: Experiment) -> Value:
        """What Optuna is told: the objective, or each objective's value; None when not measured."""
        if self.objectives:
            point = experiment.point(self.objectives)
            return list(point) if point is not None else None
        return experiment.objective if experiment.ok and experiment.objective is not None else None

    def _add_finished(self, experiment: Experiment) -> None:
        params = experiment.params
        if params is None or experiment.status != "done" or set(params) != set(self.space):
            return
        # The repeats the sampler drew (and was told about) before proposing this point come first,
        # as they did when the study ran.
        for repeat in experiment.extra.get("sampler_repeats", []):
            self._add_trial(repeat["params"], repeat.get("value"), repeat.get("attrs", {}))
        value = self._value(experiment)
        self.tried[params_key(params)] = value
        self._add_trial(params, value, experiment.extra.get("sampler_attrs", {}), _pruned_at(experiment))

    def _add_trial(
        self,
        params: dict[str, Any],
        value: Value,
        attrs: dict[str, Any],
        pruned: tuple[int, float] | None = None,
    ) -> None:
        state = TrialState.COMPLETE if value is not None else TrialState.PRUNED if pruned else TrialState.FAIL
        # Params outside a space the user has since narrowed are kept out of the model.
        with contextlib.suppress(ValueError):
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=self.space,
                    value=value if not isinstance(value, list) else None,
                    values=value if isinstance(value, list) else None,
                    state=state,
                    system_attrs=attrs,
                    intermediate_values=dict([pruned]) if pruned else None,
                )
            )
            self.trials += 1
            self._note_value(params, value)

    def _seeded_sampler(self) -> optuna.samplers.BaseSampler:
        """The sampler for the next ask, seeded from the study's seed and the number of trials so far."""
        seed = ask_seed(self.seed, self.trials)
        if self.kind in _RESEEDABLE and _reseed(self.sampler, seed):
            return self.sampler
        return make_sampler(self.kind, seed, self.options, len(self.space))

    def _note_value(self, params: dict[str, Any], value: Value) -> None:
        """Keep the best few points told, for `state` (flat: a short list, never a scan of the trials);
        several objectives have no single best (the prompt shows their front)."""
        if value is None or isinstance(value, list) or any(p == params for _, _, p in self.top):  # a repeat
            return
        bisect.insort(self.top, (sign(self.direction) * value, self.trials, dict(params)), key=lambda t: t[:2])
        del self.top[TOP_POINTS:]

    def _tell(self, trial: optuna.trial.Trial, value: Value, pruned: tuple[int, float] | None = None) -> None:
        if value is None and pruned is not None:  # as Optuna's own pruned trials: TPE ranks it by its last value
            trial.report(pruned[1], pruned[0])
            self.study.tell(trial, state=TrialState.PRUNED)
        elif value is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, value)
            self._note_value(trial.params, value)

    # -- the Proposer interface ---------------------------------------------------------------------

    def propose(self, context: Context) -> Proposal:
        repeats: list[dict[str, Any]] = []
        for _ in range(_MAX_DUPLICATE_DRAWS):
            self.study.sampler = self._seeded_sampler()
            trial = self.study.ask(self.space)
            self.trials += 1
            key = params_key(trial.params)
            # One trial's attributes, read by id: O(1), where get_trials() copies the list.
            attrs = _json_safe(self.storage.get_trial_system_attrs(trial._trial_id))
            pending = key in self._pending or any(
                p.params is not None and params_key(p.params) == key for p in context.pending
            )
            if key not in self.tried and not pending:
                self._pending[key] = trial
                extra: dict[str, Any] = {"sampler_attrs": attrs}
                if repeats:
                    extra["sampler_repeats"] = repeats
                return Proposal(
                    params=dict(trial.params),
                    rationale=describe_change(context.best.params if context.best else None, trial.params),
                    strategy=self.kind,
                    extra=extra,
                )
            # Already tried (or running): tell the sampler what that point scored, so it moves on, and
            # record what it was told, so that a resumed study is told the same.
            value = self.tried.get(key)
            self._tell(trial, value)
            repeats.append({"params": dict(trial.params), "value": value, "attrs": attrs})
        raise SearchExhausted(
            f"the {self.kind} sampler kept proposing parameters already tried; the space looks exhausted"
        )

    def observe(self, experiment: Experiment) -> None:
        if experiment.params is None:
            return
        key = params_key(experiment.params)
        trial = self._pending.pop(key, None)
        value = self._value(experiment)
        self.tried[key] = value
        if trial is None:
            self._add_finished(experiment)
        else:
            self._tell(trial, value, _pruned_at(experiment))

    # -- another proposer's points (the hybrid proposer) ----------------------------------------------

    def adopt(self, params: dict[str, Any]) -> dict[str, Any]:
        """Make PARAMS (another proposer's point, valid in the space) one of the sampler's own trials.

        The trial is asked with its parameters fixed (Optuna's enqueue_trial) and the sampler runs its
        ask as usual (CMA-ES tags the trial with its generation), so it learns from the result when
        `observe` tells it, as from a point it drew. Returns the extra to save with the proposal: the
        trial's attributes, which a resumed study gives back to the rebuilt trial.
        """
        self.study.sampler = self._seeded_sampler()  # the sampler still draws: keep that draw reproducible
        self.study.enqueue_trial(params)
        trial = self.study.ask()
        # Fixed params alone would skip the sampler's relative ask; run it, so CMA-ES tags the trial
        # with its generation and counts the point among that generation's solutions.
        trial.relative_params  # noqa: B018 (a property with the side effect wanted)
        for name, dist in self.space.items():
            trial._suggest(name, dist)  # what study.ask(space) does: here, the fixed values
        self.trials += 1
        self._pending[params_key(trial.params)] = trial
        return {"sampler_attrs": _json_safe(self.storage.get_trial_system_attrs(trial._trial_id))}

    def state(self) -> str:
        """The sampler's state in words, for another proposer's prompt: its best points and, for
        CMA-ES, the mean and spread of the distribution it samples from."""
        lines = [f"The {self.kind} sampler's study holds {self.trials} trial(s)."]
        if self.top:
            lines.append("Its best points so far:")
            lines += [f"- objective {fmt_number(sign(self.direction) * v)}: {fmt_params(p)}" for v, _, p in self.top]
        if isinstance(self.sampler, optuna.samplers.CmaEsSampler):
            lines.append(self._cma_state())
        return "\n".join(lines)

    def _cma_state(self) -> str:
        sampler = self.sampler
        assert isinstance(sampler, optuna.samplers.CmaEsSampler)
        # What CMA-ES searches: the numeric parameters, sorted by name (Optuna's intersection space).
        space: dict[str, BaseDistribution] = {
            n: d
            for n, d in sorted(self.space.items())
            if isinstance(d, FloatDistribution | IntDistribution) and not d.single()
        }
        optimizer = sampler._restore_optimizer(sampler._get_trials(self.study))
        if optimizer is None or optimizer.dim != len(space):
            return (
                "CMA-ES has not completed its first generation yet: it samples around the centre of the "
                "space, each numeric parameter's spread about a sixth of its range."
            )
        trans = _SearchSpaceTransform(space, transform_step=True, transform_0_1=True)
        mean = trans.untransform(np.clip(optimizer.mean, 0.0, 1.0))
        spread = optimizer._sigma * np.sqrt(np.diag(optimizer._C))  # per dimension, in [0, 1] units
        raw = trans._raw_bounds
        parts = []
        for i, (name, dist) in enumerate(space.items()):
            width = float(spread[i] * (raw[i, 1] - raw[i, 0]))
            if getattr(dist, "log", False):  # the transform is in log space: a spread is a factor
                parts.append(f"{name} ≈ {fmt_number(mean[name])} ×/÷ {math.exp(width):.3g}")
            else:
                parts.append(f"{name} ≈ {fmt_number(mean[name])} ± {width:.3g}")
        return (
            f"CMA-ES generation {optimizer.generation} (population {optimizer.population_size}): "
            f"sigma {optimizer._sigma:.3g} (in units of each parameter's range); mean and one-sigma spread: "
            + "; ".join(parts)
        )


def _pruned_at(experiment: Experiment) -> tuple[int, float] | None:
    """(step, value) where a [prune] rule stopped EXPERIMENT, or None (not pruned, or NaN: told as failed)."""
    pruned = experiment.extra.get("pruned") if experiment.decision == Decision.PRUNED else None
    if not isinstance(pruned, dict):
        return None
    step, value = pruned.get("step"), pruned.get("value")
    if not isinstance(step, int) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return step, float(value)


def describe_change(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """A short rationale for a sampled point: what changed from the current best."""
    if not before:
        return ", ".join(f"{k}={_short(v)}" for k, v in after.items())
    changes = [f"{k} {_short(before.get(k))}→{_short(v)}" for k, v in after.items() if before.get(k) != v]
    return ", ".join(changes) or "same as the best"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _json_safe(attrs: dict[str, Any]) -> dict[str, Any]:
    safe = {}
    for key, value in attrs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        safe[key] = value
    return safe
