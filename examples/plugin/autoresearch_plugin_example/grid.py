"""`[proposer] use = "grid:<n>"`: every point of a grid with n values per parameter, in order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from autoresearch.core.experiment import Experiment
from autoresearch.core.plugins import ProposerKind
from autoresearch.core.space import ParamSpec
from autoresearch.propose import Context, Proposal, SearchExhausted
from autoresearch.spec import Spec


def axis(param: ParamSpec, n: int) -> list[Any]:
    """N evenly spaced values from low to high (geometric for log = true), or the choices."""
    if param.choices is not None:
        return list(param.choices)
    low, high = float(param.low or 0), float(param.high or 0)
    if param.log:
        values = [low * (high / low) ** (i / (n - 1)) for i in range(n)]
    else:
        values = [low + (high - low) * i / (n - 1) for i in range(n)]
    return sorted({round(v) for v in values}) if param.type == "int" else values


def key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


class GridProposer:
    def __init__(self, spec: Spec, argument: str, history: Sequence[Experiment]) -> None:
        self.name = f"grid:{argument}"  # recorded as each experiment's proposer
        names = sorted(spec.params)
        axes = [axis(spec.params[name], int(argument)) for name in names]
        self.points = [dict(zip(names, values, strict=True)) for values in itertools.product(*axes)]
        # On resume HISTORY holds what the study already tried: the grid goes on where it stopped.
        self.tried = {key(e.params) for e in history if e.params is not None}

    def propose(self, context: Context) -> Proposal:
        for number, point in enumerate(self.points, 1):
            if key(point) not in self.tried:
                self.tried.add(key(point))
                return Proposal(params=point, rationale=f"grid point {number} of {len(self.points)}", strategy="grid")
        raise SearchExhausted(f"all {len(self.points)} grid points were tried")

    def observe(self, experiment: Experiment) -> None:
        if experiment.params is not None:
            self.tried.add(key(experiment.params))


def check(spec: Spec, argument: str) -> None:
    """Run when the spec is loaded: a mistake is one line before anything runs."""
    if not argument.isdigit() or int(argument) < 2:
        raise ValueError(f"write grid:<n> with n >= 2 values per parameter, e.g. grid:5, not grid:{argument}")


GRID = ProposerKind(
    GridProposer,
    usage="grid:<n>",
    argument=True,
    modes=("params",),
    wrong_mode="searches parameters; code mode needs llm:, agent: or script:",
    check=check,
)
