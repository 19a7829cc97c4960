"""The command line: the user's contract (see DESIGN.md).

`main` is the click group; its commands live in `ui/commands/`, grouped by what they do: running
(init, run, sandbox, confirm), inspecting (status, log, history, show, best), reporting (report,
writeup, dashboard, export) and maintenance (apply, clean). Start-up is kept short (`autoresearch
--help` well under half a second): those modules import click and little else at module level; the rest,
pydantic and rich included, is imported by the command that needs it.
"""

from __future__ import annotations

import click

from autoresearch.ui.commands import inspecting, maintenance, reporting, running


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autoresearch")
def main() -> None:
    """Autonomous research loop: propose a change, run it, keep it only if it is really better."""


for _command in (
    running.init,
    running.run,
    running.sandbox,
    running.confirm,
    inspecting.status,
    inspecting.log,
    inspecting.history,
    inspecting.show,
    inspecting.best,
    maintenance.apply,
    maintenance.clean,
    reporting.report,
    reporting.writeup,
    reporting.dashboard,
    reporting.export,
):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
