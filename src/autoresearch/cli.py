"""The command line: the user's contract (see DESIGN.md)."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from autoresearch.spec import SpecError, load_spec

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class UserError(click.ClickException):
    """An error the user can fix; printed as one line, never a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        # The message is plain text: brackets in it (`autoresearch[ray]`) are not rich markup.
        err_console.print(f"[bold red]error:[/] {escape(self.format_message())}", soft_wrap=True)


def user_errors(func: F) -> F:
    """Turn the project's own exceptions into one-line messages with the right exit code."""
    from autoresearch.propose.base import ProposalError
    from autoresearch.run.ray_executor import RayExecutorError
    from autoresearch.run.resources import ResourceError
    from autoresearch.run.sandbox import SandboxError
    from autoresearch.store import StoreError

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SpecError as exc:
            raise UserError(str(exc), exit_code=2) from None
        except (StoreError, ProposalError, SandboxError, ResourceError, RayExecutorError) as exc:
            raise UserError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


path_argument = click.argument("path", type=click.Path(path_type=Path), default=".", required=False)


def _open(path: Path) -> tuple[Any, Any]:
    from autoresearch.study import Study

    study = Study.open(path)
    return study.spec, study


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autoresearch")
def main() -> None:
    """Autonomous research loop: propose a change, run it, keep it only if it is really better."""


@main.command()
@click.option("--template", type=click.Choice(["params", "code"]), default="params", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing autoresearch.toml.")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
def init(template: str, force: bool, path: Path) -> None:
    """Write a commented autoresearch.toml (and a goal file) for a new study."""
    from importlib.resources import files

    target = path / "autoresearch.toml"
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    path.mkdir(parents=True, exist_ok=True)
    target.write_text((files("autoresearch") / "templates" / f"{template}.toml").read_text())
    goal = path / "program.md"
    if not goal.exists():
        goal.write_text((files("autoresearch") / "templates" / "program.md").read_text())
    console.print(f"wrote {target} and {goal}; edit them, then run `autoresearch run {path}`")


@main.command()
@path_argument
@click.option("--workers", type=int, help="Run up to N experiments at once (overrides run.workers).")
@click.option("--experiments", "max_experiments", type=int, help="Override budget.experiments.")
@click.option("--include-uncommitted", is_flag=True, help="Code mode: start from your uncommitted changes.")
@user_errors
def run(path: Path, workers: int | None, max_experiments: int | None, include_uncommitted: bool) -> None:
    """Run the study in PATH, or resume it if it exists."""
    from autoresearch.loop import Loop
    from autoresearch.progress import make_observer

    spec = load_spec(path)
    overrides: dict[str, Any] = {}
    if max_experiments is not None:
        overrides["budget"] = spec.budget.model_copy(update={"experiments": max_experiments})
    if include_uncommitted and spec.code is not None:
        overrides["code"] = spec.code.model_copy(update={"include_uncommitted": True})
    if overrides:
        spec = spec.model_copy(update=overrides)
    # SIGTERM (e.g. from a scheduler) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    loop = Loop(spec, observer=make_observer(console), workers=workers)
    for warning in getattr(loop.evaluator, "warnings", []):
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    outcome = loop.run()
    if outcome.best is None:
        sys.exit(1)


@main.command()
@path_argument
@user_errors
def status(path: Path) -> None:
    """Best so far, counts by decision, keep rate, throughput, cost, time left."""
    from autoresearch.progress import status_text

    spec, study = _open(path)
    console.print(status_text(spec, study.store))


@main.command()
@path_argument
@click.option("-n", "limit", type=int, help="Only the last N experiments.")
@user_errors
def log(path: Path, limit: int | None) -> None:
    """One line per experiment."""
    from autoresearch.progress import log_line

    _spec, study = _open(path)
    experiments = study.experiments()
    for experiment in experiments[-limit:] if limit else experiments:
        console.print(log_line(experiment), soft_wrap=True)


@main.command()
@click.argument("experiment_id", type=int)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@user_errors
def show(experiment_id: int, path: Path) -> None:
    """One experiment: proposal or diff, rationale, metrics, decision and why, log tails."""
    from autoresearch.progress import show_text

    spec, study = _open(path)
    try:
        experiment = study.store.get(experiment_id)
    except KeyError:
        raise UserError(f"no experiment {experiment_id} in study {spec.name}") from None
    console.print(show_text(experiment), soft_wrap=True, markup=False)


@main.command()
@path_argument
@user_errors
def best(path: Path) -> None:
    """The best candidate: its parameters, or its diff against the baseline."""
    spec, study = _open(path)
    experiment = study.best
    if experiment is None:
        raise UserError("no experiment has succeeded yet")
    console.print(
        f"# best: experiment {experiment.id}, {spec.metric.name} objective {experiment.objective:.6g}", markup=False
    )
    if experiment.params is not None:
        console.print(json.dumps(experiment.params, indent=2, sort_keys=True), markup=False)
    else:
        console.print(study.diff_from_baseline(experiment) or "(identical to the baseline)", markup=False)


@main.command()
@click.argument("experiment_id", type=int, required=False)
@click.option("--path", "path", type=click.Path(path_type=Path), default=".")
@click.option("--params-file", type=click.Path(path_type=Path), help="Params mode: where to write the params.")
@user_errors
def apply(experiment_id: int | None, path: Path, params_file: Path | None) -> None:
    """Write the best (or experiment ID) into your working tree, on request only."""
    _spec, study = _open(path)
    experiment = study.best if experiment_id is None else study.store.get(experiment_id)
    if experiment is None:
        raise UserError("no experiment has succeeded yet")
    written = study.apply(experiment, params_file=params_file)
    console.print(f"applied experiment {experiment.id}: {written}")


@main.command()
@path_argument
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: .autoresearch/<study>/report.")
@user_errors
def report(path: Path, output: Path | None) -> None:
    """Write report.html (self-contained, works offline), report.md and progress.png."""
    from autoresearch.report.html import write_report

    spec, study = _open(path)
    html, markdown = write_report(spec, study.store, output)
    console.print(f"wrote {html}\nwrote {markdown}", markup=False)


@main.command()
@click.argument("paths", type=click.Path(path_type=Path), nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True, help="Any other address needs --token.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--token", help="Required by every request (needed when --host is not loopback).")
@user_errors
def dashboard(paths: tuple[Path, ...], host: str, port: int, token: str | None) -> None:
    """Serve a live, read-only web view of one or several studies."""
    from autoresearch.report.dashboard import DashboardError, serve

    specs = [load_spec(p) for p in paths or (Path("."),)]
    try:
        server = serve(
            [s.study_dir for s in specs],
            host=host,
            port=port,
            token=token,
            directions={s.name: s.study.direction for s in specs},
        )
    except (DashboardError, OSError) as exc:
        raise UserError(str(exc)) from None
    console.print(f"autoresearch dashboard: {server.url}  (Ctrl-C to stop)", markup=False, soft_wrap=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@main.command()
@path_argument
@click.option(
    "--format", "fmt", type=click.Choice(["tsv", "csv", "json", "jsonl", "mlflow"]), default="tsv", show_default=True
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: results.<format> (mlruns/) in PATH.")
@user_errors
def export(path: Path, fmt: str, output: Path | None) -> None:
    """Write results.tsv (karpathy/autoresearch columns first), or csv/json/jsonl."""
    from autoresearch.export import write_export

    spec, study = _open(path)
    if fmt == "mlflow":
        from autoresearch.report.mlflow_export import MlflowExportError, export_mlflow

        tracking = output or spec.root / "mlruns"
        try:
            result = export_mlflow(spec, study.store, tracking)
        except MlflowExportError as exc:
            raise UserError(str(exc)) from None
        console.print(
            f"logged {result.exported} experiments to MLflow at {result.tracking_uri} "
            f"({result.skipped} already there); browse with: MLFLOW_ALLOW_FILE_STORE=true "
            f"mlflow ui --backend-store-uri {tracking}",
            markup=False,
            soft_wrap=True,
        )
        return
    target = output or spec.root / f"results.{fmt}"
    count = write_export(spec, study.experiments(), target, fmt)
    console.print(f"wrote {count} experiments to {target}")


if __name__ == "__main__":  # pragma: no cover
    main()
