"""The search policy interface: where the next candidate starts from, and what it must beat.

The loop asks its policy, once per candidate:

1. `choose(pending)` -> a `Choice`: the parent to build on (handed to the proposer through
   `Context.parent`, with its lineage), the task in words (`improve`, `draft`, `debug`, ... with a
   `note` such as a failed node's error output), and `tags` recorded with the experiment
   (`extra.search`), such as an island's number. PENDING are the experiments running now, so that
   parallel workers can be given different parents.
2. `admit(proposal, choice, context)` -> None, or the reason to reject the candidate before it runs (a
   novelty filter: a near-duplicate is recorded as `rejected`, never run).
3. `incumbent(experiment)` when the candidate has run: the experiment it must beat to be `kept`
   (a policy with several incumbents, such as islands, answers per candidate, e.g. from its tags).
   A kept candidate becomes the global best (the study branch, `best`, `apply`) when it was judged
   against the global best, or beats it (`Archive.beats_best`).
4. `observe(experiment)` for every decided experiment, in the order decided.

State and resume. A policy's state has two parts:

- what `observe` builds from decided experiments (trees, island members, cells). `observe` must be a
  deterministic function of the experiments it is given, with no randomness: on resume the loop
  replays every decided experiment into a fresh policy, in the order they were decided.
- what `choose` changes (its random generator, counters): returned by `state()` as JSON-able data and
  saved by the loop in the same store transaction as the row of the candidate it chose for. On resume
  `restore()` gets the last saved state after the replay. A choice whose candidate was never recorded
  is made again, the same way, from the same state.

Hence a study killed at any moment and resumed makes the same choices as one never interrupted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from autoresearch.core.choice import Choice

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.core.proposal import Proposal
    from autoresearch.propose.base import Context
    from autoresearch.search.archive import Archive
    from autoresearch.spec import Spec


class SearchPolicy:
    """Base class: one incumbent (the global best), no novelty filter, no state of its own.

    Subclasses set `name`, implement `choose`, and override what they need.
    """

    name: ClassVar[str] = ""
    # Greedy chains only: a candidate kept while built on an older best has its edits re-applied onto
    # the best it displaced (run/parallel.py). Policies that build on other nodes on purpose do not.
    rebases: ClassVar[bool] = False

    def __init__(self, spec: Spec, archive: Archive) -> None:
        self.spec = spec
        self.archive = archive
        self.rng = random.Random(f"{self.name}:{spec.study.seed}")

    # -- the four questions -------------------------------------------------------------------------

    def choose(self, pending: Sequence[Experiment]) -> Choice:
        raise NotImplementedError

    def admit(self, proposal: Proposal, choice: Choice, context: Context) -> str | None:
        """None to run PROPOSAL, or why it is rejected before it runs (e.g. too close to a tried one).

        CONTEXT is what the proposer was given (the parent's `files`: what the edits apply to). A
        policy may add JSON-able data to `proposal.extra["search"]` here (recorded with the row, seen
        again by `observe`, also on resume), e.g. the candidate's embedding."""
        return None

    def incumbent(self, experiment: Experiment) -> Experiment | None:
        """The experiment EXPERIMENT (just run) must beat to be kept."""
        return self.archive.best

    def observe(self, experiment: Experiment) -> None:
        """A decided experiment (also replayed on resume): deterministic, no randomness."""

    # -- more a policy may offer ----------------------------------------------------------------------

    def heads(self) -> dict[str, Experiment]:
        """Named lineage heads besides the global best (e.g. each island's best): shown by status and
        the report, and kept as git refs `refs/autoresearch/<study>/heads/<name>` in code mode."""
        return {}

    # -- state that replaying `observe` cannot rebuild ----------------------------------------------

    def state(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss]}

    def restore(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            version, internal, gauss = state["rng"]
            self.rng.setstate((version, tuple(internal), gauss))
