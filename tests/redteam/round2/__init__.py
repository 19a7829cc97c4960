"""Round two of the attacks (issue #20's classes 1-8): the channels around the sandbox.

Each module of this package holds the scenarios of one area as `ATTACKS`, a list of `Attack` whose
`kind_of_attack` is the class in issue #20's list; `all_attacks()` gathers them for
benchmarks/attacks.py and tests/redteam/test_round2.py, so that an area adds a module and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from tests.redteam.scenarios import Attack


def all_attacks() -> list[Attack]:
    attacks: list[Attack] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        attacks += getattr(importlib.import_module(f"{__name__}.{module.name}"), "ATTACKS", [])
    return attacks
