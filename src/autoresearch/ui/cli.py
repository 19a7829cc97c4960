"""The command line: the user's contract (see DESIGN.md).

Start-up is kept short (`autoresearch --help` well under half a second): only click is imported at
module level; everything else, pydantic and rich included, is imported by the command that needs it.
Data meant for files (patches, JSON, TSV) goes to stdout byte for byte, never wrapped or restyled;
messages about it go to stderr.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from autoresearch.store.database import FAILURES

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

# Optional imports -> the extra that provides them, for a one-line hint instead of a traceback.
EXTRAS = {
    "plotly": "dashboard",
    "matplotlib": "dashboard",
    "ray": "ray",
    "mlflow": "mlflow",
    "openai": "llm",
    "anthropic": "llm",
    "llama_cpp": "local",
    "scipy": "stats",
    "sklearn": "examples",
}
INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C (128 + SIGINT)


def console(stderr: bool = False) -> Console:
    """Styled messages for people (stdout); soft-wrapped, so a pipe gets whole lines. Every string it
    prints is shown literally: a control sequence a candidate wrote (in a rationale, a reason, a log
    tail) is made visible rather than sent to the terminal (report/escape.py's terminal_text)."""
    from rich.console import Console

    from autoresearch.ui.report.escape import terminal_text

    class TerminalConsole(Console):
        def render_str(self, text: str, **options: Any) -> Any:
            return super().render_str(terminal_text(text), **options)

    return TerminalConsole(stderr=stderr, highlight=False, soft_wrap=True)


def err_console() -> Console:
    return console(stderr=True)


def emit(text: str, exact: bool = False) -> None:
    """Write TEXT to stdout with one final newline: for people, control characters made visible
    (terminal_text); EXACT as it is, for what a program reads (a patch must stay a patch, JSON is
    escaped already)."""
    from autoresearch.ui.report.escape import terminal_text

    text = text if exact else terminal_text(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """A message about the output rather than the output itself: stderr, unstyled."""
    sys.stderr.write(text + "\n")


def warn(text: str) -> None:
    from rich.markup import escape

    err_console().print(f"[yellow]warning:[/] {escape(text)}")


class UserError(click.ClickException):
    """An error the user can fix; printed as one line, never a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: Any = None) -> None:
        from rich.markup import escape

        # The message is plain text: brackets in it (`autoresearch[ray]`) are not rich markup.
        err_console().print(f"[bold red]error:[/] {escape(self.format_message())}")


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """A one-line install hint when EXC is an optional dependency that is not installed."""
    top = (exc.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    return f"this needs {top}, which is not installed; install it with: pip install 'autoresearch[{EXTRAS[top]}]'"


# The project's exceptions that mean "the user can fix this": (module, class, exit code).
USER_ERRORS = (
    ("autoresearch.spec", "SpecError", 2),
    ("autoresearch.store.database", "StoreError", 1),
    ("autoresearch.propose.base", "ProposalError", 1),
    ("autoresearch.execute.sandbox", "SandboxError", 1),
    ("autoresearch.execute.resources", "ResourceError", 1),
    ("autoresearch.execute.executor", "ExecutorError", 1),  # Ray's, Slurm's, a plugin's
    ("autoresearch.engine.study", "ApplyError", 1),
    ("autoresearch.execute.code", "CodeModeError", 1),
    ("autoresearch.materialise.git", "GitError", 1),
)


def _exit_code_for(exc: Exception) -> int | None:
    """The exit code when EXC is a user error, else None. Only modules already loaded are looked at:
    an exception cannot come from one that is not, and importing them all would slow every start."""
    for module, name, code in USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return code
    return None


def _stop_if_disk_full(exc: Exception) -> None:
    """A full disk (the store's SQLite or a log write) is one line and exit code 1, never a traceback."""
    from autoresearch.core import diskfull

    full = diskfull.disk_full(exc)
    if full is not None:
        raise UserError(diskfull.message(full)) from None


def user_errors(func: F) -> F:
    """Turn the project's own exceptions into one-line messages with the right exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except ModuleNotFoundError as exc:
            hint = missing_extra(exc)
            if hint is None:
                raise
            raise UserError(hint) from None
        except OSError as exc:
            _stop_if_disk_full(exc)
            if exc.filename is None:  # not about a path the user named: a bug or the machine
                raise
            raise UserError(f"{exc.filename}: {exc.strerror or exc}") from None
        except Exception as exc:
            _stop_if_disk_full(exc)
            code = _exit_code_for(exc)
            if code is None:
                raise
            raise UserError(str(exc), exit_code=code) from None

    return wrapper  # type: ignore[return-value]


path_argument = click.argument("path", type=click.Path(path_type=Path), default=".", required=False)


def _open(path: Path) -> tuple[Any, Any]:
    from autoresearch.engine.study import Study

    study = Study.open(path)
    return study.spec, study


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autoresearch")
def main() -> None:
    """Autonomous research loop: propose a change, run it, keep it only if it is really better."""


# A metric named like this is a timing: its noise drifts with the machine's load (docs/trust.md).
_TIME_WORDS = re.compile(
    r"(^|[_.\-])(s|sec|secs|seconds?|ms|us|ns|millis|micros|time|times|timing|latency|duration|elapsed|runtime|wall)"
    r"($|[_.\-])",
    re.IGNORECASE,
)

TIMING_NOISE = """
# The metric looks like a time. Timings drift with the machine's load (other jobs, clock changes,
# hiccups), so the candidate and the incumbent run alternately and only their paired differences
# count; at the end the best is re-measured against the baseline the same way (docs/trust.md,
# "Measuring timings"). Keep the benchmark itself short: a minimum or median over a few loops,
# timed with time.process_time() when it times computation in its own process (CPU time: other
# jobs on the machine barely move it); the wall clock only when waiting (I/O, threads, a GPU) is
# part of the cost.
[noise]
rule = "paired"                  # interleaved pairs, each in a random order; a sequential paired test
pairs = 4                        # pairs before the first look; more (doubling) while it is borderline
max_pairs = 16                   # at most this many pairs per decision
confirm = true                   # at the end: best vs baseline on confirm_pairs pairs, with a 95% interval
"""


# What each template's spec runs, as written: {path in the study's folder: file in templates/}.
STARTER_FILES = {
    "params": {"train.py": "params_train.py"},
    "code": {
        "src/hot.py": "code_hot.py",
        "bench.py": "code_bench.py",
        "tests/test_hot.py": "code_test_hot.py",
        "propose.py": "code_propose.py",
    },
}


def looks_like_time(metric: str) -> bool:
    return bool(_TIME_WORDS.search(metric))


@main.command()
@click.option("--template", type=click.Choice(["params", "code"]), default="params", show_default=True)
@click.option("--metric", help="The metric's name (code template: seconds); a time gets the timing settings.")
@click.option("--force", is_flag=True, help="Overwrite an existing autoresearch.toml.")
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@user_errors
def init(template: str, metric: str | None, force: bool, path: Path) -> None:
    """Write a commented autoresearch.toml (and a goal file) for a new study."""
    from importlib.resources import files

    target = path / "autoresearch.toml"
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    if metric is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", metric):
        raise UserError(f"--metric {metric!r} is not a metric name; use letters, digits, '_' and '.'", exit_code=2)
    text = (files("autoresearch") / "templates" / f"{template}.toml").read_text()
    name_line = re.search(r'^name = "([^"]*)"', text[text.index("[metric]") :], re.MULTILINE)
    assert name_line is not None, "every template names its metric"
    if metric is not None:
        text = text.replace(name_line.group(0), f'name = "{metric}"', 1)
    if template == "code" and looks_like_time(metric or name_line.group(1)):
        text += TIMING_NOISE
    path.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    written = [target]
    goal = path / "program.md"
    if not goal.exists():
        goal.write_text((files("autoresearch") / "templates" / "program.md").read_text())
        written.append(goal)
    # The template runs as written: the files it names are written too, where none exist yet (never
    # over yours), unless another metric says the experiment is the user's own.
    starters = STARTER_FILES[template] if metric in (None, name_line.group(1)) else {}
    for name, source in starters.items():
        starter = path / name
        if not starter.exists():
            starter.parent.mkdir(parents=True, exist_ok=True)
            starter.write_text((files("autoresearch") / "templates" / source).read_text())
            written.append(starter)
    shown = ", ".join(str(p) for p in written)
    then = f"run `{_prog()} run{_path_arg(path)}`"
    if template == "code":  # candidates are built from the last commit
        then = f"commit them (git add {' '.join(str(p) for p in written)} && git commit -m study) and {then}"
    console().print(f"wrote {shown}; {then}, then adapt them to your own experiment", markup=False)


@main.command()
@path_argument
@click.option("--workers", type=int, help="Run up to N experiments at once (overrides run.workers).")
@click.option("--experiments", "max_experiments", type=int, help="Override budget.experiments.")
@click.option("--include-uncommitted", is_flag=True, help="Code mode: start from your uncommitted changes.")
@click.option("--accept-spec-change", is_flag=True, help="Resume although the spec changed since the study last ran.")
@user_errors
def run(
    path: Path, workers: int | None, max_experiments: int | None, include_uncommitted: bool, accept_spec_change: bool
) -> None:
    """Run the study in PATH, or resume it if it exists."""
    from autoresearch.engine.loop import Loop
    from autoresearch.spec import load_spec
    from autoresearch.ui.terminal import make_observer

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
    out = console()
    observer = make_observer(out, next_steps=f"{_prog()} {{command}}{_path_arg(path)}")
    loop = Loop(spec, observer=observer, workers=workers, accept_spec_change=accept_spec_change)
    for warning in getattr(loop.evaluator, "warnings", []):
        warn(warning)
    if looks_like_time(spec.metric.name) and spec.noise.rule != "paired":
        warn(
            f"{spec.metric.name!r} looks like a time, and timings drift with the machine's load: "
            '[noise] rule = "paired" compares candidate and incumbent on interleaved runs '
            '(docs/trust.md, "Measuring timings")'
        )
    outcome = loop.run()
    if outcome.interrupted or outcome.stopped.startswith("interrupted"):
        sys.exit(INTERRUPTED)
    if outcome.best is None or outcome.failed:
        sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--as",
    "role",
    type=click.Choice(["experiment", "holdout", "scorer", "proposer"]),
    default="experiment",
    show_default=True,
    help="Whose view `-- CMD` runs in.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[PATH] [-- CMD...]")
@user_errors
def sandbox(role: str, args: tuple[str, ...]) -> None:
    """Without CMD: what an experiment (and each guard, the holdout, the scorer, a proposer) sees in the
    sandbox of the study in PATH. With `-- CMD`: runs CMD in that view, to try a guard by hand before
    the study spends its budget."""
    from autoresearch.execute import sandbox_view
    from autoresearch.spec import load_spec

    after = len(sys.argv) - sys.argv.index("--") - 1 if "--" in sys.argv else 0
    before, command = (args[: len(args) - after], args[len(args) - after :]) if after else (args, ())
    before = tuple(word for word in before if word != "--")  # click keeps the `--` that follows a PATH
    if len(before) > 1:
        raise UserError(f"one PATH at most, got {' '.join(before)}; put the command after --", exit_code=2)
    spec = load_spec(Path(before[0]) if before else Path())
    if not command:
        emit(sandbox_view.describe(spec))
        return
    note(f"autoresearch: {sandbox_view.working_folder_note(spec)}")
    import shlex

    # One word is a shell command line as the spec would hold it ("cd x && pytest"); more are argv.
    sys.exit(sandbox_view.run(spec, command[0] if len(command) == 1 else shlex.join(command), role))


def _prog() -> str:
    """How the user ran this command, for hints they can paste: `.venv/bin/autoresearch` stays so."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "autoresearch" and argv0.parent != Path() and not _on_path(argv0):
        return str(argv0)
    return "autoresearch"


def _on_path(program: Path) -> bool:
    import shutil

    found = shutil.which(program.name)
    return found is not None and Path(found).resolve() == program.resolve()


def _path_arg(path: Path) -> str:
    import shlex

    return "" if path == Path() else f" {shlex.quote(str(path))}"


@main.command()
@path_argument
@user_errors
def status(path: Path) -> None:
    """Best so far, counts by decision, keep rate, throughput, cost, time left."""
    from autoresearch.engine.tamper import live_problems
    from autoresearch.spec import spec_change_line
    from autoresearch.ui.terminal import status_text

    spec, study = _open(path)
    console().print(status_text(spec, study.store), markup=False)
    changed = spec_change_line(spec, study.store)
    if changed:
        warn(changed)
    for problem in live_problems(spec, study.store, study.best, [study.best, study.baseline]):
        warn(f"tampered: {problem}")


@main.command()
@path_argument
@click.option("--pairs", type=click.IntRange(2, 200), help="Interleaved pairs to run (default: noise.confirm_pairs).")
@click.option("--force", is_flag=True, help="Record this figure even if an earlier one had more pairs.")
@user_errors
def confirm(path: Path, pairs: int | None, force: bool) -> None:
    """Re-measure the best against the baseline, interleaved: the improvement with a confidence interval."""
    from autoresearch.engine.loop import make_evaluator
    from autoresearch.engine.paired import Interleaved, shown_text
    from autoresearch.engine.paired import confirm as confirm_study
    from autoresearch.execute import reaper
    from autoresearch.execute.resources import plan_slots
    from autoresearch.spec import load_spec
    from autoresearch.store.database import RunLock, Store

    spec = load_spec(path)
    out = console()
    count = pairs or spec.noise.confirm_pairs

    def pair_done(runs: Interleaved) -> None:  # a line per pair: a confirmation takes minutes
        n = len(runs.order)
        if n == 1:
            out.print(f"re-measuring best #{runs.a.id} against baseline #{runs.b.id} on {count} interleaved pairs")
        first = "best" if runs.order[-1] == "AB" else "baseline"
        out.print(
            f"pair {n}/{count}: best {runs.a_values[-1]:.6g}, baseline {runs.b_values[-1]:.6g} ({first} ran first)",
            markup=False,
            soft_wrap=True,
        )

    store = Store(spec.study_dir, create=False)  # fails clearly when the study has never run
    try:
        with RunLock(spec.study_dir):  # not while `run` measures: both would share the machine
            evaluator = make_evaluator(spec)
            evaluator.use_slots(plan_slots(spec.run, 1).slots)
            evaluator.prime(store.experiments())
            try:
                with reaper.subreaper():
                    result = confirm_study(spec, store, evaluator, pairs, force=force, on_pair=pair_done)
                    text = result if isinstance(result, str) else shown_text(result, store)
            except KeyboardInterrupt:
                evaluator.cancel_all()
                raise UserError("interrupted; nothing was recorded", exit_code=130) from None
            finally:
                evaluator.close()
    finally:
        store.close()
    if isinstance(result, str):
        raise UserError(result)
    out.print(text, markup=False, soft_wrap=True)


@main.command()
@path_argument
@click.option("-n", "limit", type=int, help="Only the last N experiments.")
@user_errors
def log(path: Path, limit: int | None) -> None:
    """One line per experiment."""
    from autoresearch.ui.terminal import log_line

    _spec, study = _open(path)
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


@main.command()
@path_argument
@click.option("--json", "as_json", is_flag=True, help="One JSON document for agents and scripts.")
@user_errors
def history(path: Path, as_json: bool) -> None:
    """The study's history: each experiment with its feedback and metric curves (never holdout values)."""
    from autoresearch.execute.feedback import summarise_curve
    from autoresearch.propose.materials import history_document
    from autoresearch.store.history import History
    from autoresearch.ui.terminal import log_line

    spec, study = _open(path)
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


@main.command()
@click.argument("experiment_id", type=int)
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@user_errors
def show(experiment_id: int, path: Path) -> None:
    """One experiment: proposal or diff, rationale, metrics, decision and why, log tails."""
    from autoresearch.ui.terminal import show_text

    spec, study = _open(path)
    try:
        experiment = study.store.get(experiment_id)
    except KeyError:
        raise UserError(f"no experiment {experiment_id} in study {spec.name}") from None
    emit(show_text(experiment))


_ACCEPT_TAMPER = click.option(
    "--accept-tamper",
    is_flag=True,
    help="Use the study's record even though a run tampered with it (status says how); not advised.",
)


def _refuse_tampered(command: str, study: Any, experiment: Any, accept: bool) -> None:
    """Stop `best` / `apply` when the study's record was tampered with, unless the user accepts it."""
    from autoresearch.engine.tamper import live_problems, refusal

    problems = live_problems(study.spec, study.store, study.best, [experiment, study.baseline])
    if problems and not accept:
        raise UserError(refusal(command, problems))
    for problem in problems:
        warn(f"tampered: {problem}; used anyway, as asked")


@main.command()
@path_argument
@_ACCEPT_TAMPER
@user_errors
def best(path: Path, accept_tamper: bool) -> None:
    """The best candidate: its parameters (JSON), or its diff against the baseline (a patch).

    Only the data goes to stdout, so `autoresearch best > best.patch` is a patch `git apply` takes.
    """
    import json

    spec, study = _open(path)
    experiment = study.best
    if experiment is None:
        raise UserError("no experiment has succeeded yet")
    _refuse_tampered("showing the best", study, experiment, accept_tamper)
    note(f"# best: experiment {experiment.id}, {spec.metric.name} objective {experiment.objective:.6g}")
    if experiment.params is not None:
        emit(json.dumps(experiment.params, indent=2, sort_keys=True), exact=True)
        return
    diff = study.diff_from_baseline(experiment)
    if diff:
        emit(diff, exact=True)
    else:
        note("(identical to the baseline)")


@main.command()
@click.argument("args", nargs=-1, metavar="[ID] [PATH]")
@click.option("--path", "path_option", type=click.Path(path_type=Path), help="The study's folder (or give PATH).")
@click.option("--params-file", type=click.Path(path_type=Path), help="Params mode: where to write the params.")
@click.option("--force", is_flag=True, help="Params mode: overwrite a params file changed since it was written.")
@_ACCEPT_TAMPER
@user_errors
def apply(
    args: tuple[str, ...], path_option: Path | None, params_file: Path | None, force: bool, accept_tamper: bool
) -> None:
    """Write the best (or experiment ID) into your working tree, on request only."""
    experiment_id, path = _id_and_path(args, path_option)
    _spec, study = _open(path)
    if experiment_id is None:
        experiment = study.best
        if experiment is None:
            raise UserError("no experiment has succeeded yet")
    else:
        try:
            experiment = study.store.get(experiment_id)
        except KeyError:
            raise UserError(f"no experiment {experiment_id} in study {study.name}") from None
    if experiment.decision in FAILURES:
        failed_guard = (experiment.reason or "").startswith("guard ")
        what = "failed its guard" if failed_guard else f"was {experiment.decision}"
        warn(f"experiment {experiment.id} {what}: {experiment.reason}; applying it anyway, as asked")
    _refuse_tampered("applying", study, experiment, accept_tamper)
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


@main.command()
@path_argument
@user_errors
def clean(path: Path) -> None:
    """Remove the study's git worktrees (code mode); `run` recreates them when it resumes."""
    from autoresearch.execute.code import code_workspace
    from autoresearch.store.database import RunLock

    spec, _study = _open(path)
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


@main.command()
@path_argument
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Default: .autoresearch/<study>/report.")
@user_errors
def report(path: Path, output: Path | None) -> None:
    """Write report.html (self-contained, works offline), report.md, progress.png and lineage.png."""
    from autoresearch.ui.report.html import write_report_files

    spec, study = _open(path)
    written = write_report_files(spec, study.store, output)
    console().print("\n".join(f"wrote {file}" for file in written), markup=False)


@main.command()
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

    options: dict[str, Any] = {}
    if use is None and spec.proposer.use.startswith("llm:"):
        use = spec.proposer.use
    if use is None:
        return None
    if use == spec.proposer.use:
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


@main.command()
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


@main.command()
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

    spec, study = _open(path)
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


if __name__ == "__main__":  # pragma: no cover
    main()
