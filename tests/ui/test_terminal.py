from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
from rich.console import Console

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.ui.terminal import LiveView, show_text
from tests.conftest import BOWL, bowl_spec, wait_for, write_study
from tests.store.conftest import schema_2_study


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


def test_the_panel_ticks_while_an_experiment_runs(tmp_path: Path) -> None:
    # The candidate runs until the test lets it finish, which it does only after seeing the panel redraw
    # with the candidate running and its elapsed time moving: events, whatever the machine's speed.
    go = tmp_path / "go"
    wait = (
        "import json, os, sys, time\n"
        f"while json.load(open(sys.argv[1]))['x'] != 0 and not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.05)\n"
    )
    root = write_study(tmp_path / "s", bowl_spec(2).replace("bowl.py", "wait.py"), {"wait.py": wait + BOWL})
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=140, highlight=False)
    view = LiveView(console, next_steps="autoresearch {command} s")
    thread = threading.Thread(target=lambda: Loop(load_spec(root), observer=view).run())
    thread.start()
    try:
        elapsed = re.compile(r"running #2 \((\d+m\d+s)\)")
        wait_for(lambda: len(set(elapsed.findall(buffer.getvalue()))) >= 2, "the running experiment's clock to move")
    finally:
        go.write_text("")
        thread.join(120)
    text = buffer.getvalue()
    assert "stopped: experiment budget reached (2)" in text
    assert "next: `autoresearch report s`, `autoresearch best s`, `autoresearch apply s`" in text


def test_the_panel_fits_80_columns_with_every_figure_labelled(
    bowl_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    console = Console(file=io.StringIO(), force_terminal=True, highlight=False)
    assert console.width == 80
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_with(console, bowl_study))  # drop the cursor moves
    panel = text[text.rindex("╭") : text.rindex("╯") + 1]  # the last frame drawn
    assert max(len(line) for line in panel.splitlines()) == 80
    # Each figure whole on one line, with its label: none cut off, none a bare number.
    for figure in (
        r"experiment 10 of 10",
        r"keep rate \d+%",
        r"throughput \d+\.\d/h",
        r"elapsed \d+m\d\ds",
        r"ETA \d+m\d\ds",
    ):
        assert re.search(figure, panel), (figure, panel)
    assert "cost" not in panel  # the bowl's proposer is no LLM


def test_show_says_whether_a_judged_candidate_became_the_global_best(tmp_path: Path) -> None:
    # The lines the version that wrote this store (schema 2, the flag in `extra`) printed for its rows.
    store = Store(schema_2_study(tmp_path))
    lines = {
        e.id: [line for line in show_text(e).splitlines() if line.startswith("search")] for e in store.experiments()
    }
    store.close()
    assert lines[5] == ['search     {"best": true, "incumbent": 3, "island": 0, "task": "improve"}']
    assert lines[6] == ['search     {"best": false, "incumbent": 4, "island": 1, "task": "improve"}']
    assert lines[10] == ['search     {"island": 1, "task": "improve"}']  # running: not judged yet
    assert lines[2] == []  # the baseline: no policy's choice
