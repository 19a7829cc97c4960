from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from autoresearch.loop import Loop
from autoresearch.progress import LiveView
from autoresearch.spec import load_spec


def run_with(console: Console, root: Path) -> str:
    Loop(load_spec(root), observer=LiveView(console)).run()
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_terminal_gets_a_live_panel(bowl_study: Path) -> None:
    text = run_with(Console(file=io.StringIO(), force_terminal=True, width=140, highlight=False), bowl_study)
    assert "experiment 10 of 10" in text and "keep rate" in text and "baseline" in text
    assert "╭" in text and "stopped: experiment budget reached (10)" in text


def test_plain_output_is_one_line_per_experiment(bowl_study: Path) -> None:
    text = run_with(Console(file=io.StringIO(), force_terminal=False, width=80, highlight=False), bowl_study)
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert len(lines) == 10 and lines[-1].startswith("[10/10] #10 ")
    assert "╭" not in text and "\x1b[" not in text
