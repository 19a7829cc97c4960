"""Commands that read a study without changing it: status, log, history, show, best.

Imports inside the commands are for start-up time: `autoresearch --help` loads none of them (shared.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from autoresearch.engine.study import Study
    from autoresearch.spec import Spec

from autoresearch.ui.commands.shared import (
    UserError,
    accept_tamper_option,
    console,
    emit,
    note,
    open_study,
    path_argument,
    refuse_tampered,
    user_errors,
    warn,
)


@click.command()
@path_argument
@user_errors
def status(path: Path) -> None:
    """Best so far, counts by decision, keep rate, throughput, cost, time left."""
    from autoresearch.engine.tamper import live_problems
    from autoresearch.spec import spec_change_line
    from autoresearch.ui.terminal import status_text

    spec, study = open_study(path)
    console().print(status_text(spec, study.store), markup=False)
    changed = spec_change_line(spec, study.store)
    if changed:
        warn(changed)
    for problem in live_problems(spec, study.store, study.best, [study.best, study.baseline]):
        warn(f"tampered: {problem}")


@click.command()
@path_argument
@click.option("-n", "limit", type=int, help="Only the last N experiments.")
@user_errors
def log(path: Path, limit: int | None) -> None:
    """One line per experiment."""
    from autoresearch.ui.terminal import log_line

    _spec, study = open_study(path)
    experiments = study.experiments()
    shown = experiments[-limit:] if limit else experiments
    if sys.stdout.isatty():
        out = console()
        for experiment in shown:
            out.print(log_line(experiment))
    else:  # plain lines for grep, awk and files
        from rich.text import Text

        for experiment in shown:
            emit(Text.from_markup(log_line(experiment)).plain)


@click.command()
@path_argument
@click.option("--json", "as_json", is_flag=True, help="One JSON document for agents and scripts.")
@user_errors
def history(path: Path, as_json: bool) -> None:
    """The study's history: each experiment with its feedback and metric curves (never holdout values)."""
    from autoresearch.execute.feedback import summarise_curve
    from autoresearch.propose.materials import history_document
    from autoresearch.store.history import History
    from autoresearch.ui.terminal import log_line

    spec, study = open_study(path)
    seen = History(
        spec.study.direction,
        (e for e in study.experiments() if e.status == "done"),
        holdout_metric=spec.holdout.metric if spec.holdout else None,
    )
    if as_json:
        emit(json.dumps(history_document(spec, seen), indent=1, default=str), exact=True)
        return
    from rich.text import Text

    for experiment in seen:
        emit(Text.from_markup(log_line(experiment)).plain)
        for name, curve in (experiment.extra.get("series") or {}).items():
            emit("    curve: " + summarise_curve(name, curve))
        if experiment.extra.get("feedback"):
            emit("    feedback: " + " | ".join(str(experiment.extra["feedback"]).splitlines()))


@click.command()
@click.argument("experiment_id", type=int)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@user_errors
def show(experiment_id: int, path: Path) -> None:
    """One experiment: proposal or diff, rationale, metrics, decision and why, log tails."""
    from autoresearch.ui.terminal import show_text

    spec, study = open_study(path)
    try:
        experiment = study.store.get(experiment_id)
    except KeyError:
        raise UserError(f"no experiment {experiment_id} in study {spec.name}") from None
    emit(show_text(experiment))


@click.command()
@path_argument
@accept_tamper_option
@user_errors
def best(path: Path, accept_tamper: bool) -> None:
    """The best candidate: its parameters (JSON), or its diff against the baseline (a patch).

    Only the data goes to stdout, so `autoresearch best > best.patch` is a patch `git apply` takes.
    """
    import json

    spec, study = open_study(path)
    experiment = study.best
    if experiment is None:
        raise UserError("no experiment has succeeded yet")
    refuse_tampered("showing the best", study, experiment, accept_tamper)
    if spec.metric.objectives:
        _front(spec, study)
        return
    note(f"# best: experiment {experiment.id}, {spec.metric.name} objective {experiment.objective:.6g}")
    if experiment.params is not None:
        emit(json.dumps(experiment.params, indent=2, sort_keys=True), exact=True)
        return
    diff = study.diff_from_baseline(experiment)
    if diff:
        emit(diff, exact=True)
    else:
        note("(identical to the baseline)")


def _front(spec: Spec, study: Study) -> None:
    """Several objectives: the Pareto front, one JSON object per member (id, each objective's value, and
    its params or commit), in the order they joined; the reference point and hypervolume as a note."""
    front = study.front()
    assert front is not None and spec.metric.objectives
    names = list(spec.metric.objectives)
    reference = ", ".join(f"{n} {v:.6g}" for n, v in zip(names, front.reference, strict=True))
    note(
        f"# Pareto front: {len(front.members)} member(s) ("
        + ", ".join(f"{d} {n}" for n, d in spec.metric.objectives.items())
        + f"); hypervolume {front.hypervolume:.6g} from the reference point ({reference}); "
        "`autoresearch apply ID` takes one"
    )
    members = []
    for member in front.members:
        record: dict[str, object] = {
            "id": member.id,
            "objectives": dict(zip(names, member.point(names) or (), strict=True)),
        }
        if member.params is not None:
            record["params"] = member.params
        else:
            record["commit"] = member.commit_sha
            record["rationale"] = member.rationale
        members.append(record)
    emit(json.dumps(members, indent=2, sort_keys=True), exact=True)
