"""Mutation strategies and a bandit that learns which ones produce kept experiments.

Thompson sampling over Beta(1 + kept, 1 + not kept) per strategy, with an exploration floor: with
probability `explore` a strategy is drawn uniformly, so each has at least explore/N chance per step
and none starves however badly it started.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    family: str = "general"


PARAMS_STRATEGIES = (
    Strategy(
        "hyperparameter_tweak",
        "Nudge one or two numeric hyperparameters near the current best "
        "(a small step, e.g. x0.5-x2 on log-scale values).",
        "tune",
    ),
    Strategy(
        "architecture_change",
        "Change the parameters that shape the model or system (sizes, depth, "
        "width, counts, structural choices) while keeping the rest.",
        "structure",
    ),
    Strategy(
        "regularization_adjustment",
        "Adjust regularization (dropout, weight decay, penalties, "
        "early stopping, data augmentation) to fix over- or under-fitting.",
        "regularize",
    ),
    Strategy(
        "optimizer_switch",
        "Switch the optimizer or solver choice and re-balance the settings that "
        "go with it (learning rate, momentum, batch size).",
        "optimizer",
    ),
    Strategy(
        "learning_rate_schedule",
        "Rework the learning rate and its schedule (warmup, decay, step counts, epochs).",
        "tune",
    ),
    Strategy(
        "bold_exploration",
        "Jump to an untried region of the space: change several parameters at once far from everything tried so far.",
        "explore",
    ),
)

CODE_STRATEGIES = (
    Strategy("algorithmic_change", "Replace the approach with a better algorithm or better asymptotics.", "algorithm"),
    Strategy(
        "micro_optimization",
        "Speed up the hot path: avoid repeated work, hoist invariants, use faster primitives, vectorise.",
        "performance",
    ),
    Strategy("simplification", "Remove code or complexity while keeping or improving the metric.", "simplify"),
    Strategy("data_structure_change", "Change the data layout or data structures used.", "algorithm"),
    Strategy("hyperparameter_tweak", "Tune constants and settings in the code near their current values.", "tune"),
    Strategy("bold_rewrite", "Try a substantially different idea for the weakest part of the code.", "explore"),
)


def strategies_from_options(mode: str, options: dict[str, Any]) -> list[Strategy]:
    """options.strategies: names, {name, description, family} tables, or a name -> description table."""
    given = options.get("strategies")
    if given is None:
        return list(PARAMS_STRATEGIES if mode == "params" else CODE_STRATEGIES)
    defaults = {s.name: s for s in (*PARAMS_STRATEGIES, *CODE_STRATEGIES)}
    result: list[Strategy] = []
    items = given.items() if isinstance(given, dict) else ((item, None) for item in given)
    for item, text in items:
        if isinstance(item, dict):
            name = str(item["name"])
            base = defaults.get(name)
            result.append(
                Strategy(
                    name,
                    str(item.get("description", base.description if base else name)),
                    str(item.get("family", base.family if base else name)),
                )
            )
        elif text is not None:
            result.append(Strategy(str(item), str(text), str(item)))
        else:
            result.append(defaults.get(str(item), Strategy(str(item), str(item), str(item))))
    if not result:
        raise ValueError("proposer.options.strategies is empty; remove it to use the defaults")
    return result


class StrategyScheduler:
    def __init__(self, strategies: list[Strategy], *, explore: float = 0.15, seed: int | None = None) -> None:
        if not strategies:
            raise ValueError("at least one strategy is needed")
        self.strategies = {s.name: s for s in strategies}
        self.explore = explore
        self.wins: Counter[str] = Counter()
        self.tries: Counter[str] = Counter()
        self.recent: list[str] = []  # names of the last picks, newest last
        self._rng = random.Random(seed)

    def choose(self, *, avoid_family: str | None = None) -> Strategy:
        """Pick a strategy; `avoid_family` (on stagnation) skips the family that stopped paying off."""
        everything = list(self.strategies.values())
        pool = [s for s in everything if s.family != avoid_family] or everything
        explore = self._rng.random() < self.explore
        choice = self._rng.choice(pool) if explore else max(pool, key=self._sample)
        self.recent = [*self.recent[-49:], choice.name]
        return choice

    def _sample(self, strategy: Strategy) -> float:
        wins = self.wins[strategy.name]
        return self._rng.betavariate(1 + wins, 1 + self.tries[strategy.name] - wins)

    def record(self, name: str | None, improved: bool) -> None:
        if name is None or name not in self.strategies:
            return  # a strategy from another proposer or an older configuration
        self.tries[name] += 1
        self.wins[name] += int(improved)

    def dominant_family(self, last: int) -> str | None:
        """The family picked most in the last `last` steps: the one to leave when stuck."""
        names = self.recent[-last:]
        if not names:
            return None
        return Counter(self.strategies[n].family for n in names).most_common(1)[0][0]

    def rates(self) -> dict[str, tuple[int, int]]:
        return {name: (self.wins[name], self.tries[name]) for name in self.strategies}
