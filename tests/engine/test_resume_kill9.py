"""`kill -9` at random moments loses at most the running experiment, and resume never duplicates."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from autoresearch.store.database import Store
from tests.conftest import PYTHON, write_study

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
