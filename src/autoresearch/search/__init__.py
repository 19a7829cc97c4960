"""Search: the archive of experiments the loop owns, and the policy that decides where to search next.

`Archive` (archive.py) holds the experiment tree: baseline, global best, stagnation, children and
depth of every node. A `SearchPolicy` (policy.py) chooses the parent of the next candidate and the
incumbent it must beat; one module per policy, each registered as an entry point
(`autoresearch.policies` in pyproject.toml; another package adds one the same way). `make_policy`
builds the one the spec names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autoresearch.core import plugins

if TYPE_CHECKING:
    from autoresearch.search.archive import Archive
    from autoresearch.search.policy import SearchPolicy
    from autoresearch.spec import Spec


def make_policy(spec: Spec, archive: Archive) -> SearchPolicy:
    cls = plugins.load("policies", spec.search.policy)  # imports the chosen policy's module only
    policy: SearchPolicy = cls(spec, archive)
    return policy
