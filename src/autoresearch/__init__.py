"""autoresearch: an autonomous research loop that keeps only real improvements.

>>> from autoresearch import optimize
>>> best, score, history = optimize(lambda x: (x - 3) ** 2, 0.0, max_iterations=50)
"""

from autoresearch.api import optimize
from autoresearch.loop import Loop, Outcome
from autoresearch.propose.base import Context, Proposal, Proposer
from autoresearch.spec import Spec, SpecError, load_spec
from autoresearch.store import Experiment, Store
from autoresearch.study import Study

__version__ = "0.1.0"

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
