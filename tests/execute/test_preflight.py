"""The check before the baseline: each command's program is looked up once in the sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

from autoresearch.execute.preflight import executable
from tests.redteam.conftest import params_study, run


def test_the_program_of_a_command_is_its_first_plain_word() -> None:
    assert executable("OMP_NUM_THREADS=1 env pytest -q tests") == "pytest"
    assert executable("{python} -m pytest") == sys.executable
    assert executable("/tmp/env/bin/python train.py") == "/tmp/env/bin/python"
    assert executable("./run.sh --fast") is None  # the run's own file: checked by running it
    assert executable("{runner} x") is None  # a placeholder the search fills


def test_shell_builtins_and_programs_on_path_start_and_the_study_runs(tmp_path: Path) -> None:
    # `echo` is a builtin inside (`command -v` says "echo") and /usr/bin/echo outside: the same thing.
    root = params_study(tmp_path / "s", "echo loss: {cheat}", [{"params": {"cheat": 1}}])
    assert [e.decision for e in run(root)] == ["baseline", "reverted"]
    root = params_study(tmp_path / "t", "cd . && sh -c 'echo loss: {cheat}'", [{"params": {"cheat": 1}}])
    assert [e.decision for e in run(root)] == ["baseline", "reverted"]
