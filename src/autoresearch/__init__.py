"""autoresearch: an autonomous research loop that keeps only real improvements.

>>> from autoresearch import optimize
>>> best, score, history = optimize(lambda x: (x - 3) ** 2, 0.0, max_iterations=50)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoresearch.api import optimize
    from autoresearch.core.experiment import Experiment
    from autoresearch.core.proposal import Proposal
    from autoresearch.engine.loop import Loop, Outcome
    from autoresearch.engine.study import Study
    from autoresearch.propose.base import Context, Proposer
    from autoresearch.spec import Spec, SpecError, load_spec
    from autoresearch.store.database import Store

__version__ = "0.1.0"

# The public names, imported on first use: the command line (`autoresearch --help`) starts without
# loading Optuna, pydantic or the loop.
_WHERE = {
    "optimize": "autoresearch.api",
    "Loop": "autoresearch.engine.loop",
    "Outcome": "autoresearch.engine.loop",
    "Context": "autoresearch.propose.base",
    "Proposal": "autoresearch.core.proposal",
    "Proposer": "autoresearch.propose.base",
    "Spec": "autoresearch.spec",
    "SpecError": "autoresearch.spec",
    "load_spec": "autoresearch.spec",
    "Experiment": "autoresearch.core.experiment",
    "Store": "autoresearch.store.database",
    "Study": "autoresearch.engine.study",
}

__all__ = [
    "Context",
    "Experiment",
    "Loop",
    "Outcome",
    "Proposal",
    "Proposer",
    "Spec",
    "SpecError",
    "Store",
    "Study",
    "load_spec",
    "optimize",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'autoresearch' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
