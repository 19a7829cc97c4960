"""The report's Pareto front, for a study with several objectives: what it shows (`FrontReport`) and the
members' table in words. The figures are front_plot.py's (matplotlib and plotly, loaded only by the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autoresearch.core.experiment import Experiment, decided_order
from autoresearch.spec import Spec
from autoresearch.store.history import History
from autoresearch.ui.report.escape import md_code_cell


@dataclass(frozen=True)
class FrontReport:
    """What the report shows of the front: the objectives, every measured point, the members, the
    reference point and the hypervolume (reference_from_bounds: a tenth of each range beyond the worst)."""

    names: tuple[str, ...]
    directions: tuple[str, ...]
    measured: list[Experiment]
    members: list[Experiment]
    reference: tuple[float, ...]
    hypervolume: float

    def point(self, experiment: Experiment) -> tuple[float, ...]:
        point = experiment.point(self.names)
        assert point is not None
        return point

    def describe(self, experiment: Experiment) -> str:
        """What a member changed: its params, or its rationale (code mode)."""
        if experiment.params is not None:
            return ", ".join(f"{k}={v!r}" for k, v in experiment.params.items())
        return " ".join((experiment.rationale or "").split())


def front_report(spec: Spec, experiments: Sequence[Experiment]) -> FrontReport | None:
    """The front as the judge grew it (the experiments in the order decided); None with one objective
    or before anything was measured."""
    if not spec.metric.objectives:
        return None
    done = sorted((e for e in experiments if e.status == "done"), key=lambda e: decided_order(e.finished_at, e.id))
    history = History(spec.study.direction, done, objectives=spec.metric.objectives)
    figures = history.front_figures()
    if figures is None:
        return None
    names = tuple(spec.metric.objectives)
    measured = [e for e in history if e.point(names) is not None]
    return FrontReport(
        names, tuple(spec.metric.directions), measured, figures.members, figures.reference, figures.hypervolume
    )


def front_lines(report: FrontReport) -> list[str]:
    """The front in words, for report.md: the figures, then one row per member."""
    reference = ", ".join(f"{n} {v:.6g}" for n, v in zip(report.names, report.reference, strict=True))
    out = [
        f"{len(report.members)} member(s) none of which another dominates; hypervolume {report.hypervolume:.6g} "
        f"from the reference point ({reference}: a tenth of each objective's range beyond its worst measured "
        "value). `autoresearch apply ID` takes one.",
        "",
        "| # | "
        + " | ".join(f"{n} ({d})" for n, d in zip(report.names, report.directions, strict=True))
        + " | change |",
        "| --- | " + " | ".join("---" for _ in report.names) + " | --- |",
    ]
    for member in report.members:
        values = " | ".join(f"{v:.6g}" for v in report.point(member))
        out.append(f"| {member.id} | {values} | {md_code_cell(report.describe(member))} |")
    return out
