"""Commands that change files outside the study's record: apply (the best into your working tree) and
clean (the study's worktrees).

Imports inside the commands are for start-up time: `autoresearch --help` loads none of them (shared.py).
"""

from __future__ import annotations

from pathlib import Path

import click

from autoresearch.core.experiment import FAILURES
from autoresearch.ui.commands.shared import (
    UserError,
    accept_tamper_option,
    console,
    open_study,
    path_argument,
    refuse_tampered,
    user_errors,
    warn,
)


@click.command()
@click.argument("args", nargs=-1, metavar="[ID] [PATH]")
@click.option("--path", "path_option", type=click.Path(path_type=Path), help="The study's folder (or give PATH).")
@click.option("--params-file", type=click.Path(path_type=Path), help="Params mode: where to write the params.")
@click.option(
    "--force",
    is_flag=True,
    help="Params mode: overwrite a params file changed since it was written. Several objectives: apply an "
    "experiment that is not on the Pareto front.",
)
@accept_tamper_option
@user_errors
def apply(
    args: tuple[str, ...], path_option: Path | None, params_file: Path | None, force: bool, accept_tamper: bool
) -> None:
    """Write the best (or experiment ID) into your working tree, on request only."""
    experiment_id, path = _id_and_path(args, path_option)
    spec, study = open_study(path)
    front = study.front()  # several objectives: any member may be applied, by its ID
    if experiment_id is None:
        experiment = study.best
        if experiment is None:
            raise UserError("no experiment has succeeded yet")
        if front is not None and len(front.members) > 1:
            listed = ", ".join(f"#{e.id}" for e in front.members)
            raise UserError(
                f"several objectives: the Pareto front has {len(front.members)} members ({listed}); "
                "pick one with `autoresearch apply ID` (`autoresearch best` lists their values)"
            )
    else:
        try:
            experiment = study.store.get(experiment_id)
        except KeyError:
            raise UserError(f"no experiment {experiment_id} in study {study.name}") from None
        if front is not None and experiment.id not in {e.id for e in front.members}:
            if not force:
                listed = ", ".join(f"#{e.id}" for e in front.members)
                raise UserError(
                    f"experiment {experiment.id} is not on the Pareto front ({listed}): a member is at least as "
                    f"good on every objective ({', '.join(spec.metric.objectives or ())}); apply a member, or "
                    "pass --force to apply it anyway"
                )
            warn(f"experiment {experiment.id} is not on the Pareto front; applying it anyway (--force)")
    if experiment.decision in FAILURES:
        failed_guard = (experiment.reason or "").startswith("guard ")
        what = "failed its guard" if failed_guard else f"was {experiment.decision}"
        warn(f"experiment {experiment.id} {what}: {experiment.reason}; applying it anyway, as asked")
    refuse_tampered("applying", study, experiment, accept_tamper)
    written = study.apply(experiment, params_file=params_file, force=force)
    if written.startswith("already applied"):  # a second apply: nothing to change
        console().print(f"experiment {experiment.id} is {written}", markup=False)
    else:
        console().print(f"applied experiment {experiment.id}: {written}", markup=False)


def _id_and_path(args: tuple[str, ...], path_option: Path | None) -> tuple[int | None, Path]:
    """`apply [ID] [PATH]` like the other commands; `--path` still works."""
    rest = list(args)
    experiment_id: int | None = None
    if len(rest) > 2 or (len(rest) == 2 and not rest[0].isdigit()):
        raise click.UsageError("usage: autoresearch apply [ID] [PATH]")
    if rest and rest[0].isdigit() and (len(rest) == 2 or not Path(rest[0]).is_dir()):
        experiment_id = int(rest.pop(0))
    if rest and path_option is not None:
        raise click.UsageError(f"give the study's folder once, as PATH or --path (got {rest[0]} and {path_option})")
    return experiment_id, Path(rest[0]) if rest else (path_option or Path())


@click.command()
@path_argument
@user_errors
def clean(path: Path) -> None:
    """Remove the study's git worktrees (code mode); `run` recreates them when it resumes."""
    from autoresearch.execute.code import code_workspace
    from autoresearch.store.database import RunLock

    spec, _study = open_study(path)
    if spec.mode != "code":
        console().print(f"study {spec.name} has no worktrees (params mode); nothing to clean", markup=False)
        return
    with RunLock(spec.study_dir):  # never under a running study
        workspace = code_workspace(spec)[0]
        existed = workspace.worktrees_dir.exists()
        workspace.remove_worktrees()
    console().print(
        f"removed {workspace.worktrees_dir}" if existed else f"no worktrees under {workspace.worktrees_dir}",
        markup=False,
    )
