"""The command line as a whole: every command through one study, and a start-up that loads nothing heavy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli


def test_status_log_show_best_apply_export(bowl_study: Path) -> None:
    run = cli("run", str(bowl_study))
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 10 and lines[0].startswith("[1/10] #1 baseline 5 | best 5 (#1)")
    assert "stopped: experiment budget reached (10)" in run.stdout

    status = cli("status", str(bowl_study))
    assert "experiments 10 / 10" in status.stdout and "baseline 5" in status.stdout

    log = cli("log", str(bowl_study)).stdout.splitlines()
    assert len(log) == 10 and log[0].startswith("#1") and "baseline" in log[0]

    show = cli("show", "2", str(bowl_study))
    assert "experiment 2  parent 1" in show.stdout and "stdout.log (tail)" in show.stdout and "loss:" in show.stdout
    missing = cli("show", "99", str(bowl_study))
    assert missing.returncode == 1 and "no experiment 99" in missing.stderr

    best = cli("best", str(bowl_study))
    params = json.loads(best.stdout)  # only the data on stdout; the header goes to stderr
    assert best.stderr.startswith("# best: experiment")
    assert set(params) == {"x", "y"}

    applied = cli("apply", "--path", str(bowl_study))
    assert applied.returncode == 0 and json.loads((bowl_study / "best_params.json").read_text()) == params

    assert cli("export", str(bowl_study)).returncode == 0
    rows = list(csv.reader((bowl_study / "results.tsv").open(), delimiter="\t"))
    assert rows[0][:5] == ["commit", "loss", "memory_gb", "status", "description"]
    assert len(rows) == 11 and rows[1][3] == "keep" and {r[3] for r in rows[2:]} <= {"keep", "discard"}
    assert cli("export", "--format", "jsonl", str(bowl_study)).returncode == 0
    records = [json.loads(line) for line in (bowl_study / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == list(range(1, 11))


def test_the_command_line_starts_without_heavy_imports() -> None:
    # `autoresearch --help` must start fast: what it loads is checked, not how long it takes.
    probe = (
        "import sys\nfrom autoresearch.ui.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'optuna', 'numpy', 'rich', 'autoresearch.spec', 'autoresearch.engine.loop')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Usage: " in done.stdout
    assert done.stderr.strip() == "[]", done.stderr


COMMANDS = {"init", "run", "sandbox", "confirm", "status", "log", "history", "show", "best", "apply", "clean"}
COMMANDS |= {"report", "writeup", "dashboard", "export"}


def test_the_console_script_and_python_m_offer_every_command() -> None:
    # The commands live in ui/commands/ and are gathered by ui/cli.py: one left out would vanish quietly.
    script = Path(sys.executable).parent / "autoresearch"  # the `autoresearch` entry point pyproject declares
    for argv in ([str(script)], [sys.executable, "-m", "autoresearch"]):
        done = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        listing = done.stdout.split("Commands:", 1)[1]
        assert {line.split()[0] for line in listing.splitlines() if line.strip()} == COMMANDS, done.stdout
