"""What every command shares: a missing extra or an unwritable path is one line, and a candidate's
control sequences reach no terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import BOWL, bowl_spec, cli, write_study


def test_a_missing_extra_is_one_line_naming_the_install(bowl_study: Path, tmp_path: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    # A real subprocess where plotly cannot be imported, as after an install without the extra.
    hidden = tmp_path / "no-plotly"
    (hidden / "plotly").mkdir(parents=True)
    (hidden / "plotly" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'plotly'\", name='plotly')\n"
    )
    path = os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])
    report = cli("report", str(bowl_study), env_extra={"PYTHONPATH": path})
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert report.stderr.strip() == (
        "error: this needs plotly, which is not installed; install it with: pip install 'autoresearch[dashboard]'"
    )


def test_an_output_path_that_cannot_be_written_is_one_line(bowl_study: Path, tmp_path: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    for args in (("export", "-o", str(tmp_path / "no" / "such" / "folder.tsv")), ("init", str(bowl_study / "bowl.py"))):
        done = cli(*args, str(bowl_study)) if args[0] == "export" else cli(*args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")


def test_control_sequences_a_candidate_wrote_reach_no_terminal(tmp_path: Path) -> None:
    # A script proposer's rationale and strategy, and the run's own stderr, carry escape sequences (clear
    # the screen, retitle the window, recolour): log, show, status and run's own lines show them as text.
    planted = "\x1b[2J\x1b]0;owned\x07\x1b[32mkept +99%"
    propose = (
        "import json\n"
        f"print(json.dumps({{'params': {{'x': 1.0, 'y': -2.0}}, 'rationale': {planted!r}, 'strategy': {planted!r}}}))\n"
    )
    bowl = BOWL + f"import sys\nsys.stderr.write({planted!r} + '\\n')\n"
    root = write_study(
        tmp_path / "s",
        bowl_spec(budget=2, proposer=f"script:{sys.executable} propose.py"),
        {"bowl.py": bowl, "propose.py": propose},
    )
    outputs = [cli("run", str(root), timeout=180)]
    outputs += [cli(command, str(root)) for command in ("log", "status")]
    outputs.append(cli("show", "2", str(root)))
    for done in outputs:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "\x1b" not in done.stdout + done.stderr, done.args
    assert "\\x1b[2J" in outputs[-1].stdout  # shown, as text
