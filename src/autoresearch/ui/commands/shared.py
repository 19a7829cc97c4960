"""What every command shares: how it prints, how an error the user can fix becomes one line, and how
it opens the study.

Start-up is kept short: only click is imported here at module level; rich, pydantic and the rest are
imported inside the function that needs them, so `autoresearch --help` loads none of them.
Data meant for files (patches, JSON, TSV) goes to stdout byte for byte, never wrapped or restyled;
messages about it go to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

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
    ("autoresearch.core.proposal", "ProposalError", 1),
    ("autoresearch.execute.sandbox", "SandboxError", 1),
    ("autoresearch.execute.resources", "ResourceError", 1),
    ("autoresearch.execute.executor", "ExecutorError", 1),  # Ray's, Slurm's, a plugin's
    ("autoresearch.engine.study", "ApplyError", 1),
    ("autoresearch.execute.code", "CodeModeError", 1),
    ("autoresearch.materialise.git", "GitError", 1),
    ("autoresearch.core.plugins", "PluginConflict", 1),  # two installed packages claim one name
    ("autoresearch.core.plugins", "NotAPlugin", 1),
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


def open_study(path: Path) -> tuple[Any, Any]:
    """The spec and the Study of the study in PATH (an error the user can fix when it never ran)."""
    from autoresearch.engine.study import Study

    study = Study.open(path)
    return study.spec, study


accept_tamper_option = click.option(
    "--accept-tamper",
    is_flag=True,
    help="Use the study's record even though a run tampered with it (status says how); not advised.",
)


def refuse_tampered(command: str, study: Any, experiment: Any, accept: bool) -> None:
    """Stop `best` / `apply` when the study's record was tampered with, unless the user accepts it."""
    from autoresearch.engine.tamper import live_problems, refusal

    problems = live_problems(study.spec, study.store, study.best, [experiment, study.baseline])
    if problems and not accept:
        raise UserError(refusal(command, problems))
    for problem in problems:
        warn(f"tampered: {problem}; used anyway, as asked")
