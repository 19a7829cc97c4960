"""Optuna samplers adapted so an ask costs the same at trial 10,000 as at trial 100, where that is possible.

`IndexedCmaEsSampler`: on every ask, `optuna.samplers.CmaEsSampler` walks all trials to find the
completed ones, then walks those to find the current generation's: two Python loops over the study,
about 9 ms per ask at 10,000 trials, the largest cost left in a `cmaes` study. The algorithm only
needs the completed trials in order (it restores its state from the latest one that carries it,
scanning back a generation or so) and the current generation's trials. This subclass keeps both as
trials finish, looking only at trials it has not indexed yet (apart from one shallow copy of Optuna's
trial list per ask, a memcpy). It draws exactly what the stock sampler draws
(tests/propose/test_samplers.py pins it); with `consider_pruned_trials` it is the stock sampler.

`WindowedTPESampler` (`[proposer] options = { window = N }` with `tpe`): TPE fits its two densities
on every trial, so its cost per ask grows linearly with the study. With a window it fits on the N
most recent trials only: the cost stops growing once the study passes N trials, and the model
forgets older points. That is a trade (measured in the README's figures), not a free speed-up, so it
is off unless asked for.
"""

from __future__ import annotations

import bisect
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState


class IndexedCmaEsSampler(optuna.samplers.CmaEsSampler):
    """CMA-ES with its completed trials indexed, by trial number and by generation."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._indexed = not options.get("consider_pruned_trials", False)
        self._completed: list[FrozenTrial] = []  # in trial-number order, as the stock sampler lists them
        self._completed_numbers: list[int] = []
        self._generations: dict[int, tuple[list[int], list[FrozenTrial]]] = {}  # generation -> (numbers, trials)
        self._done: set[int] = set()  # trial numbers already indexed (finished trials never change)
        self._cursor = 0  # every trial before this one is finished and indexed

    def _get_trials(self, study: optuna.Study) -> list[FrozenTrial]:
        if not self._indexed:
            return super()._get_trials(study)
        trials = study._get_trials(deepcopy=False, use_cache=True)
        cursor = None
        for trial in trials[self._cursor :]:  # the unfinished ones and the new ones: O(workers + new)
            if trial.number in self._done:
                continue
            if not trial.state.is_finished():
                cursor = trial.number if cursor is None else cursor
                continue
            self._done.add(trial.number)
            if trial.state == TrialState.COMPLETE:
                self._index(trial)
        self._cursor = len(trials) if cursor is None else cursor
        return self._completed

    def _index(self, trial: FrozenTrial) -> None:
        at = bisect.bisect(self._completed_numbers, trial.number)
        self._completed_numbers.insert(at, trial.number)
        self._completed.insert(at, trial)
        generation = trial.system_attrs.get(self._attr_key_generation, -1)
        numbers, trials = self._generations.setdefault(generation, ([], []))
        at = bisect.bisect(numbers, trial.number)
        numbers.insert(at, trial.number)
        trials.insert(at, trial)

    def _get_solution_trials(self, trials: list[FrozenTrial], generation: int) -> list[FrozenTrial]:
        if not self._indexed or trials is not self._completed:
            return super()._get_solution_trials(trials, generation)
        return list(self._generations.get(generation, ((), []))[1])


class WindowedTPESampler(optuna.samplers.TPESampler):
    """TPE fitted on the WINDOW most recent trials of each state it considers."""

    def __init__(self, *, window: int, **options: Any) -> None:
        super().__init__(**options)
        self._window = window

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return super().sample_relative(_Recent(study, self._window), trial, search_space)  # type: ignore[arg-type]

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        recent = _Recent(study, self._window)
        return super().sample_independent(recent, trial, param_name, param_distribution)  # type: ignore[arg-type]


class _Recent:
    """A study as TPE reads it, with only the most recent trials: everything else is the study's."""

    def __init__(self, study: optuna.Study, window: int) -> None:
        self._study = study
        self._window = window

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = False, states: Any = None, use_cache: bool = False) -> list[FrozenTrial]:
        return self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)[-self._window :]
