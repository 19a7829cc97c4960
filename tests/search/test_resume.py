"""Resume restores the search policy exactly: a study killed with SIGKILL mid-run and resumed makes the
same choices (parent and task of every candidate) as one never interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import study_rows, wait_for
from tests.search.conftest import tree_study


def choices(root: Path) -> list[tuple[int, int | None, str | None]]:
    rows = study_rows(root / ".autoresearch" / "t")
    assert rows and all(e.status == "done" for e in rows)
    return [(e.id, e.parent_id, e.extra.get("search", {}).get("task")) for e in rows]


def run(root: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_sigkill_and_resume_make_the_same_choices_as_an_uninterrupted_run(tmp_path: Path) -> None:
    settings = {"budget": 24, "drafts": 3, "debug_probability": 0.5, "max_debug_depth": 3}
    whole = tree_study(tmp_path / "whole", **settings)  # type: ignore[arg-type]
    run(whole)
    expected = choices(whole)
    tasks = [task for _, _, task in expected]
    assert "debug" in tasks and "improve" in tasks  # the random draws mattered

    cut = tree_study(tmp_path / "cut", **settings)  # type: ignore[arg-type]
    study_dir = cut / ".autoresearch" / "t"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(cut)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: sum(e.status == "done" for e in study_rows(study_dir)) >= 8, "8 finished experiments")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(study_rows(study_dir)) < settings["budget"]  # it really was cut short
    run(cut)
    assert choices(cut) == expected
