"""Commands that set up and run a study: init, run, sandbox (the view a run gets), confirm.

Imports inside the commands are for start-up time: `autoresearch --help` loads none of them (shared.py).
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path
from typing import Any

import click

from autoresearch.ui.commands.shared import UserError, console, emit, note, path_argument, user_errors, warn

INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C (128 + SIGINT)


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


@click.command()
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


@click.command()
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


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
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


@click.command()
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
