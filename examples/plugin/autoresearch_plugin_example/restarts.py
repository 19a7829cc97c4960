"""`[search] policy = "restarts"`: every `every`-th candidate starts again from the baseline, the others
build on the best; each must beat the best to be kept. `[search.options] every = 4` (the default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoresearch.core.choice import Choice
from autoresearch.core.experiment import Experiment
from autoresearch.search.archive import Archive
from autoresearch.search.policy import SearchPolicy
from autoresearch.spec import Spec, SpecError


class RestartsPolicy(SearchPolicy):
    name = "restarts"  # recorded in the store; the same as the entry point's name

    def __init__(self, spec: Spec, archive: Archive) -> None:
        super().__init__(spec, archive)
        every = spec.search.options.get("every", 4)
        if not isinstance(every, int) or every < 1:
            raise SpecError(f"search.options.every = {every!r}: write a whole number of candidates, e.g. 4")
        self.every = every
        self.chosen = 0  # candidates chosen for so far

    def choose(self, pending: Sequence[Experiment]) -> Choice:
        self.chosen += 1
        if self.chosen % self.every == 0:
            return Choice(parent=self.archive.baseline, task="draft", tags={"restart": True})
        return Choice(parent=self.archive.best)

    # What `choose` changes is saved with each candidate's row; a resumed study restores it.
    def state(self) -> dict[str, Any]:
        return {"chosen": self.chosen}

    def restore(self, state: dict[str, Any]) -> None:
        self.chosen = int(state.get("chosen", 0))
