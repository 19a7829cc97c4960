"""Noise that must not be mistaken for progress: a synthetic objective whose true value never improves
(100 experiments), and a no-op edit to a timed function measured while another job loads the CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.spec import spec_from_dict
from tests.redteam.conftest import code_study, run, whole

# A fresh N(0, 1) draw per (experiment, seed): deterministic, so the counts below are reproducible.
NOISE = (
    "import os, random\n"
    "key = os.environ['AUTORESEARCH_EXPERIMENT_ID'] + '-' + os.environ['AUTORESEARCH_SEED']\n"
    "print('loss:', random.Random(key).gauss(0.0, 1.0))\n"
)


def kept_over_noise(folder: Path, noise: dict[str, object]) -> tuple[int, int]:
    folder.mkdir()
    (folder / "noise.py").write_text(NOISE)
    spec = spec_from_dict(
        {
            "study": {"name": "noise"},
            "run": {"command": f"{sys.executable} -S noise.py", "repeats": 3},
            "metric": {"name": "loss"},
            "params": {"x": {"low": 0.0, "high": 1.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": 101},
            "noise": noise,
        },
        root=folder,
    )
    loop = Loop(spec)
    loop.run()
    assert len(loop.history) == 101
    kept = sum(1 for e in loop.history if e.decision == "kept")
    return kept, sum(1 for e in loop.history if e.extra.get("strict_keep"))


def test_significant_keeps_nothing_where_strict_keeps_many(tmp_path: Path) -> None:
    strict, _ = kept_over_noise(tmp_path / "strict", {"rule": "strict"})
    significant, would = kept_over_noise(
        tmp_path / "significant", {"rule": "significant", "baseline_repeats": 5, "recheck_best": True}
    )
    print(f"\nover 100 noise-only candidates: strict kept {strict}, significant kept {significant} ", end="")
    print(f"(where the strict rule would have kept {would} against the same incumbent)")
    assert significant == 0
    assert strict >= 2 and would >= 20


# A timed function, and a protected benchmark printing the best of three timings of it.
TIMED = '''"""Sums squares: the function whose time is the objective."""


def work(n: int = 60000) -> int:
    return sum(i * i for i in range(n))
'''
BENCH = """import time
from train import work
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    work()
    best = min(best, time.perf_counter() - start)
print(f"seconds: {best:.6f}")
"""
# Loads every core in phases (busy, then idle, ~0.3 s each), as another job on a shared machine does.
HOG = """
import multiprocessing, time

def spin():
    while True:
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass
        time.sleep(0.3)

if __name__ == "__main__":
    for _ in range(multiprocessing.cpu_count()):
        multiprocessing.Process(target=spin, daemon=True).start()
    time.sleep(3600)
"""


@pytest.mark.parametrize("clock", ["perf_counter", "process_time"])
def test_a_no_op_edit_to_a_timed_function_is_not_kept_under_a_phased_cpu_hog(tmp_path: Path, clock: str) -> None:
    """Hidden timing: the edits change nothing that runs, the load changes everything; pairs cancel it.
    By the wall clock (perf_counter) the load moves every run; by CPU time (process_time, what
    docs/trust.md recommends for computation) the pairs are tight, and a no-op must not look better."""
    no_ops = [
        whole(TIMED.replace('"""Sums squares', '"""Sums the squares'), "clearer docstring"),
        whole(TIMED + "\n# a comment only\n", "a comment"),
    ]
    noise = '[noise]\nrule = "paired"\nalpha = 0.001\npairs = 4\nmax_pairs = 8\nconfirm = false'
    root = code_study(
        tmp_path / "timed",
        {"train.py": TIMED, "evaluate.py": BENCH.replace("perf_counter", clock)},
        no_ops,
        extra=noise,
        metric='name = "seconds"',
    )
    (tmp_path / "hog.py").write_text(HOG)
    hog = subprocess.Popen([sys.executable, str(tmp_path / "hog.py")], start_new_session=True)
    try:
        experiments = run(root)
    finally:
        os.killpg(hog.pid, signal.SIGKILL)  # the hog and its spinners: a group this test started
        hog.wait()
    candidates = experiments[1:]
    assert [e.decision for e in candidates] == ["reverted", "reverted"], [e.reason for e in candidates]
    for e in candidates:
        paired = e.extra["paired"]
        assert len(paired["a"]) == len(paired["b"]) == len(paired["order"]) >= 4
        assert "interleaved pairs" in (e.reason or "")
