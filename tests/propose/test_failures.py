"""A proposer failing the same way again and again stops the study, names the fix, and uses no budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.propose.failures import ANY_FAILURE_LIMIT, SAME_FAILURE_LIMIT, FailureStreak
from autoresearch.store.database import Store
from tests.conftest import BOWL, PYTHON, bowl_spec, cli, write_study

CRASH = "import json, sys\njson.load(sys.stdin)\nraise RuntimeError('no idea left')\n"
GARBAGE = "import sys\nsys.stdin.read()\nprint('hello, I am not a proposal')\n"
# Proposes one good point, then crashes on every call after it.
GOOD_THEN_CRASH = """
import json, pathlib, sys
json.load(sys.stdin)
calls = pathlib.Path("calls")
n = len(calls.read_text()) if calls.exists() else 0
calls.write_text("x" * (n + 1))
if n == 0:
    print(json.dumps({"params": {"x": 1.0, "y": -2.0}}))
else:
    raise RuntimeError("no idea left")
"""


def _study(tmp_path: Path, proposer: str, script: str | None = None, budget: int = 10) -> Path:
    files = {"bowl.py": BOWL} | ({"propose.py": script} if script else {})
    return write_study(tmp_path / "s", bowl_spec(budget, proposer), files)


def _rows(root: Path) -> list[tuple[str | None, bool]]:
    store = Store(root / ".autoresearch" / "bowl")
    try:
        return [(e.decision, bool(e.extra.get("proposer_failed"))) for e in store.experiments()]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "script", "error"),
    [
        ("missing", None, "exited with 2: "),  # python: can't open file ... No such file
        ("crash", CRASH, "exited with 1: RuntimeError: no idea left"),
        ("garbage", GARBAGE, "proposer output is not JSON"),
    ],
)
def test_the_same_failure_three_times_stops_the_study(
    tmp_path: Path, name: str, script: str | None, error: str
) -> None:
    root = _study(tmp_path, f"script:{PYTHON} propose.py", script)
    run = cli("run", str(root))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    stop = [line for line in run.stdout.splitlines() if line.startswith("stopped:")]
    assert len(stop) == 1 and f"the proposer script:{PYTHON} propose.py failed 3 times in a row" in stop[0]
    assert error in stop[0] and "docs/script.md" in stop[0] and "run again to resume" in stop[0]
    # The baseline, then exactly the three failures, recorded as rejected and marked: no budget used.
    assert _rows(root) == [("baseline", False)] + [("rejected", True)] * SAME_FAILURE_LIMIT
    said = "3 proposer failures (no proposal: see `autoresearch log`), not counted in the budget"
    assert said in run.stdout and said in cli("status", str(root)).stdout

    # Fixed, the study resumes: the failures did not use its budget of 10.
    (root / "propose.py").write_text(
        "import json, random, sys\njson.load(sys.stdin)\n"
        "print(json.dumps({'params': {'x': random.uniform(-5, 5), 'y': random.uniform(-5, 5)}}))\n"
    )
    again = cli("run", str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    rows = _rows(root)
    assert len(rows) == 10 + SAME_FAILURE_LIMIT and sum(failed for _, failed in rows) == SAME_FAILURE_LIMIT


def test_a_streak_is_broken_by_a_real_proposal(tmp_path: Path) -> None:
    root = _study(tmp_path, f"script:{PYTHON} propose.py", GOOD_THEN_CRASH)
    run = cli("run", str(root))
    assert run.returncode == 1 and "failed 3 times in a row the same way" in run.stdout
    assert [failed for _, failed in _rows(root)] == [False, False, True, True, True]


def test_the_streak_rule() -> None:
    streak = FailureStreak()
    assert streak.observe("script:x", True, "a") == "" and streak.observe("script:x", True, "a") == ""
    assert streak.observe("script:x", False, None) == ""  # a proposal in between starts over
    reasons = ["a", "b"] * ANY_FAILURE_LIMIT  # different each time: stopped after ten in a row
    stops = [streak.observe("agent:y", True, r) for r in reasons[:ANY_FAILURE_LIMIT]]
    assert stops[:-1] == [""] * (ANY_FAILURE_LIMIT - 1)
    assert stops[-1].startswith("the proposer agent:y failed 10 times in a row without a proposal: b")
    assert "pass_env" in stops[-1] and streak.stop_reason == stops[-1]
