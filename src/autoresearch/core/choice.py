"""What a search policy decides for the next candidate: the parent it builds on, and the task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autoresearch.core.experiment import Experiment


@dataclass
class Choice:
    """What the policy decided for the next candidate."""

    parent: Experiment | None  # the experiment to build on; None only before there is a baseline
    task: str = "improve"  # in words for the proposer: improve, draft, debug, ...
    note: str = ""  # more for the proposer (a debug task: the failed node's error output)
    tags: dict[str, Any] = field(default_factory=dict)  # JSON-able; recorded in the row's extra.search

    def record(self) -> dict[str, Any]:
        """What the row keeps of this choice (`extra.search`); the note is in the prompt files."""
        return {"task": self.task, **self.tags}
