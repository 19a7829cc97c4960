"""Search: the archive of experiments the loop owns, and the policy that decides where to search next.

`Archive` (archive.py) holds the experiment tree: baseline, global best, stagnation, children and
depth of every node. A `SearchPolicy` (policy.py) chooses the parent of the next candidate and the
incumbent it must beat; one module per policy. `make_policy` builds the one the spec names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoresearch.search.archive import Archive
    from autoresearch.search.policy import SearchPolicy
    from autoresearch.spec import Spec

# [search] policy = NAME -> "module:class". Imported only when chosen, so spec.py can list the names
# without importing any policy.
POLICIES: dict[str, str] = {
    "greedy": "autoresearch.search.greedy:GreedyPolicy",
    "tree": "autoresearch.search.tree:TreePolicy",
    "hybrid": "autoresearch.search.hybrid:HybridPolicy",
    "islands": "autoresearch.search.islands:IslandsPolicy",
}


def make_policy(spec: Spec, archive: Archive) -> SearchPolicy:
    module, _, name = POLICIES[spec.search.policy].partition(":")
    cls = getattr(importlib.import_module(module), name)
    policy: SearchPolicy = cls(spec, archive)
    return policy
