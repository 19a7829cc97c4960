"""What running a candidate produced: its metrics and objective, or why it failed or was rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Evaluation:
    """What running a candidate produced. `error` set means the experiment failed."""

    metrics: dict[str, float] = field(default_factory=dict)
    objective: float | None = None
    error: str | None = None
    rejected: str | None = None  # a rule was broken (guard, integrity): rejected, whatever the metric
    pruned: str | None = None  # stopped early by a [prune] rule (why): never kept
    exit_code: int | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # more store columns: diff, commit_sha, holdout
