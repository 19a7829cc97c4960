"""Commands that write what a study found for people and other tools: report, writeup, dashboard,
export.

Imports inside the commands are for start-up time: `autoresearch --help` loads none of them (shared.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from autoresearch.ui.commands.shared import (
    UserError,
    console,
    err_console,
    open_study,
    path_argument,
    user_errors,
    warn,
)


@click.command()
@path_argument
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: .autoresearch/<study>/report.")
@user_errors
def report(path: Path, output: Path | None) -> None:
    """Write report.html (self-contained, works offline), report.md, progress.png and lineage.png."""
    from autoresearch.ui.report.html import write_report_files

    spec, study = open_study(path)
    written = write_report_files(spec, study.store, output)
    console().print("\n".join(f"wrote {file}" for file in written), markup=False)


@click.command()
@path_argument
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: .autoresearch/<study>/writeup.")
@click.option("--latex", is_flag=True, help="Also write note.tex (the same note, for LaTeX).")
@click.option("--no-ablation", is_flag=True, help="Measure nothing: write from what the store holds.")
@click.option("--llm", "llm_use", help="llm:<provider>/<model> writes the prose (default: the study's LLM proposer).")
@click.option("--llm-base-url", help="The LLM's server, for an OpenAI-compatible one the spec does not name.")
@click.option("--no-llm", is_flag=True, help="The template writes the prose, even with an LLM proposer.")
@user_errors
def writeup(
    path: Path,
    output: Path | None,
    latex: bool,
    no_ablation: bool,
    llm_use: str | None,
    llm_base_url: str | None,
    no_llm: bool,
) -> None:
    """A research note: question, setup, results, ablation of each kept change, threats to validity."""
    from autoresearch.engine import tamper
    from autoresearch.engine.study import Study
    from autoresearch.spec import listed_changes, load_spec, spec_changes
    from autoresearch.store.database import RunLock, Store
    from autoresearch.ui.report.writeup import write_note

    spec = load_spec(path)
    store = Store(spec.study_dir, create=False)  # fails clearly when the study has never run
    try:
        backend = None if no_llm else _writeup_backend(spec, llm_use, llm_base_url)
        changed = spec_changes(spec, store)
        if changed and not no_ablation:
            warn(
                f"the spec changed since the study last ran ({listed_changes(changed)}); the ablation and the "
                "confirmation measure with the spec as it is now"
            )
        study = Study(spec, store)
        for problem in tamper.live_problems(spec, store, study.best, [study.best, study.baseline]):
            warn(f"tampered: {problem}; the note's results may not be what was measured")
        if not no_ablation:
            with RunLock(spec.study_dir):  # not while `run` measures: both would share the machine
                for problem in _measure_for_note(spec, store):
                    warn(problem)
        written = write_note(
            spec,
            store,
            output or spec.study_dir / "writeup",
            latex=latex,
            backend=backend,
            ablation_skipped=no_ablation,
        )
    finally:
        store.close()
    if written.prose.error:
        warn(f"the LLM wrote no prose ({written.prose.error}); the template wrote it")
    for section, numbers in written.prose.rejected.items():
        warn(f"the LLM's {section} stated numbers not in the store ({', '.join(numbers)}); the template's text is used")
    console().print(f"wrote {written.markdown}" + (f"\nwrote {written.latex}" if written.latex else ""), markup=False)


def _writeup_backend(spec: Any, use: str | None, base_url: str | None) -> Any:
    """The chat backend that writes the note's prose, or None for the template."""
    from autoresearch.llm.base import LLMError
    from autoresearch.llm.factory import make_backend
    from autoresearch.propose.kinds import llm_of

    options: dict[str, Any] = {}
    if use is None:
        use = llm_of(spec.proposer.use)  # the study's own LLM (an llm: proposer's, or a hybrid's)
    if use is None:
        return None
    if use == llm_of(spec.proposer.use):
        options = dict(spec.proposer.options)
    if base_url:
        options["base_url"] = base_url
    try:
        return make_backend(use if use.startswith("llm:") else f"llm:{use}", options)
    except LLMError as exc:
        raise UserError(f"--llm: {exc}") from None


def _measure_for_note(spec: Any, store: Any) -> list[str]:
    """The ablation (and a confirmation of the best, when none is stored), through the study's evaluator."""
    from autoresearch.engine.loop import make_evaluator
    from autoresearch.execute import reaper
    from autoresearch.execute.resources import plan_slots
    from autoresearch.ui.report.writeup import measure_for_note

    evaluator = make_evaluator(spec)
    evaluator.use_slots(plan_slots(spec.run, 1).slots)
    evaluator.prime(store.experiments())
    out = err_console()
    try:
        with reaper.subreaper():
            return measure_for_note(spec, store, evaluator, on_start=lambda what: out.print(what, markup=False))
    except KeyboardInterrupt:
        evaluator.cancel_all()
        raise UserError("interrupted; what was measured is kept, run writeup again to finish", exit_code=130) from None
    finally:
        evaluator.close()


@click.command()
@click.argument("paths", type=click.Path(path_type=Path), nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True, help="Any other address needs --token.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--token",
    help="Required by every request; needed when --host is not loopback, else one is drawn and printed in the URL.",
)
@user_errors
def dashboard(paths: tuple[Path, ...], host: str, port: int, token: str | None) -> None:
    """Serve a live, read-only web view of one or several studies."""
    from autoresearch.spec import load_spec
    from autoresearch.ui.dashboard.server import DashboardError, serve

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
    console().print(f"autoresearch dashboard: {server.url}  (Ctrl-C to stop)", markup=False)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@click.command()
@path_argument
@click.option(
    "--format", "fmt", type=click.Choice(["tsv", "csv", "json", "jsonl", "mlflow"]), default="tsv", show_default=True
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: results.<format> (mlruns/) in PATH.")
@user_errors
def export(path: Path, fmt: str, output: Path | None) -> None:
    """Write results.tsv (karpathy/autoresearch columns first), or csv/json/jsonl."""
    from autoresearch.engine.paired import Confirmation
    from autoresearch.ui.export import write_export

    spec, study = open_study(path)
    if fmt == "mlflow":
        from autoresearch.ui.report.mlflow_export import MlflowExportError, export_mlflow

        tracking = output or spec.root / "mlruns"
        try:
            result = export_mlflow(spec, study.store, tracking)
        except MlflowExportError as exc:
            raise UserError(str(exc)) from None
        console().print(
            f"logged {result.exported} experiments to MLflow at {result.tracking_uri} "
            f"({result.skipped} already there); browse with: MLFLOW_ALLOW_FILE_STORE=true "
            f"mlflow ui --backend-store-uri {tracking}",
            markup=False,
        )
        return
    target = output or spec.root / f"results.{fmt}"
    count = write_export(spec, study.experiments(), target, fmt, Confirmation.from_store(study.store))
    console().print(f"wrote {count} experiments to {target}", markup=False)
