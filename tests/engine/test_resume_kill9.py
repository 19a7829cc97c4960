"""`kill -9` at random moments loses at most the running experiment, and resume never duplicates."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store
from tests.conftest import PYTHON, TRADE, trade_spec, write_study
from tests.engine.test_judge import assert_kept_is_the_front

EXPERIMENT = """
import json, random, sys, time
p = json.load(open(sys.argv[1]))
time.sleep(random.uniform(0.05, 0.4))
print("loss:", (p["x"] - 1.0) ** 2)
"""


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    budget = 25
    root = write_study(
        tmp_path,
        f"""
    [study]
    name = "k9"
    [run]
    command = "{PYTHON} exp.py {{params_file}}"
    [metric]
    name = "loss"
    [params]
    x = {{ low = -5.0, high = 5.0 }}
    [proposer]
    use = "random"
    [budget]
    experiments = {budget}
    """,
        {"exp.py": EXPERIMENT},
    )
    rng = random.Random(1234)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-m", "autoresearch", "run", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(
        [sys.executable, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    assert kills >= 3
    store = Store(root / ".autoresearch" / "k9", create=False)
    rows = store.experiments()
    store.close()
    assert len(rows) == budget and [r.id for r in rows] == list(range(1, budget + 1))
    assert all(r.status == "done" for r in rows)
    assert sum(r.decision == "baseline" for r in rows) == 1
    keys = [round(r.params["x"], 12) for r in rows]
    assert len(set(keys)) == budget  # no experiment was run twice as a new row
    # every experiment's log holds the output of exactly one finished run
    for row in rows:
        if row.decision == "failed":  # killed during both of its runs: given up, not repeated forever
            assert row.reason == "interrupted 2 times while running; not retried again"
            continue
        assert Path(row.log_dir, "stdout.log").read_text().count("loss:") == 1


def test_a_study_with_two_objectives_resumes_after_sigkill_with_its_front_intact(tmp_path: Path) -> None:
    slow = TRADE.replace("import json, sys", "import json, sys, time\ntime.sleep(0.3)")
    root = write_study(tmp_path, trade_spec(12), {"trade.py": slow})
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    study = root / ".autoresearch" / "trade"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len([r for r in _rows(study) if r.status == "done"]) < 5:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [r for r in _rows(study) if r.status == "done"]
    assert 5 <= len(before) < 12
    final = subprocess.run(
        [sys.executable, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    rows = _rows(study)
    assert len(rows) == 12 and all(r.status == "done" for r in rows)
    for old in before:  # what was decided before the kill stays as it was
        assert next(r for r in rows if r.id == old.id) == old
    assert_kept_is_the_front(rows)  # candidates after the resume were judged against the whole front


def _rows(study: Path) -> list[Experiment]:
    if not (study / "study.db").exists():
        return []
    store = Store(study, create=False)
    try:
        return store.experiments()
    finally:
        store.close()
