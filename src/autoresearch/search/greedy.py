"""`greedy`: one chain, the default. Every candidate is built on the global best and must beat it."""

from __future__ import annotations

from collections.abc import Sequence

from autoresearch.core.choice import Choice
from autoresearch.core.experiment import Experiment
from autoresearch.search.policy import SearchPolicy


class GreedyPolicy(SearchPolicy):
    name = "greedy"
    rebases = True  # parallel workers all build on the best; one kept meanwhile is re-based onto the next

    def choose(self, pending: Sequence[Experiment]) -> Choice:
        return Choice(parent=self.archive.best)

    def state(self) -> dict[str, object]:
        return {}  # nothing random: the chain is rebuilt from the store
