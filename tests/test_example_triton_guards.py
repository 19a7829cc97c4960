"""examples/triton_kernel's guards against kernel cheats, each attacked by a cheating kernel.py (the honest
kernel plus a wrapper that cheats), run for real through check.py and bench.py in Triton's CPU interpreter.

The GPU-only half of the stream guard (CUDA-event time against synchronised wall time) needs a GPU;
its CPU counterpart here is a kernel that returns before its work is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_examples import tracked_copy

HONEST = "\n_honest = matmul\n"

# Each cheat is appended to the honest kernel.py and redefines `matmul` around it.
MEMO_BY_SHAPE = (
    HONEST
    + """
_answers = {}
def matmul(a, b, **config):  # the first answer per shape, returned ever after
    key = (tuple(a.shape), tuple(b.shape))
    if key not in _answers:
        _answers[key] = _honest(a, b, **config)
    return _answers[key]
"""
)
WRITES_INPUTS = (
    HONEST
    + """
def matmul(a, b, **config):  # zeroes its inputs after use (a later call, or the check, has it easier)
    c = _honest(a, b, **config)
    a.zero_()
    return c
"""
)
FINISHES_LATE = (
    HONEST
    + """
import threading
import time as _time
def matmul(a, b, **config):  # returns at once; the answer lands later (as work on another CUDA stream)
    answer = _honest(a, b, **config)
    c = torch.zeros_like(answer)
    def land():
        _time.sleep(0.02)
        c.copy_(answer)
    threading.Thread(target=land).start()
    return c
"""
)
SLOWS_CLOCK_AT_IMPORT = """
import time
_real_perf_counter = time.perf_counter
time.perf_counter = lambda: _real_perf_counter() / 2  # every interval looks twice as short
"""
PATCHES_EVENTS_IN_A_CALL = (
    HONEST
    + """
def matmul(a, b, **config):  # the first call quietly halves what CUDA events report
    original = torch.cuda.Event.elapsed_time
    torch.cuda.Event.elapsed_time = lambda self, end: original(self, end) / 2
    return _honest(a, b, **config)
"""
)
PATCHES_THE_BENCHMARK = """
import sys
sys.modules["common"].time_launches = lambda *args, **kwargs: 0.001  # the harness's own timing loop
"""
LOOSENS_A_THRESHOLD = """
import sys
sys.modules["common"].MIN_EVENT_SHARE = 0.0  # events may then see none of the work
"""
SHRINKS_THE_CHECK = """
import sys
sys.modules["__main__"].SHAPES = ((64, 64, 64),)  # only the one shape the kernel gets right
"""
LAZY_WHEN_TIMED = (
    HONEST
    + """
_calls = 0
def matmul(a, b, **config):  # works for the first calls (warm-up, a check), then does nothing
    global _calls
    _calls += 1
    if _calls > 2:
        return torch.empty(a.shape[0], b.shape[1], dtype=a.dtype)
    return _honest(a, b, **config)
"""
)


def run_script(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"TRITON_INTERPRET": "1"}
    return subprocess.run(
        [sys.executable, script], cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def example(tmp_path: Path, cheat: str = "") -> Path:
    root = tracked_copy("triton_kernel", tmp_path / "triton")
    kernel = root / "kernel.py"
    kernel.write_text(kernel.read_text() + cheat)
    return root


def test_the_honest_kernel_passes_every_guard_in_check_and_bench(tmp_path: Path) -> None:
    root = example(tmp_path)
    check = run_script(root, "check.py")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "correct on 6 shapes, 2 fresh draws each" in check.stdout
    bench = run_script(root, "bench.py")
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert "ms: " in bench.stdout and "refused" not in bench.stderr


@pytest.mark.parametrize(
    ("cheat", "script", "expected"),
    [
        (MEMO_BY_SHAPE, "check.py", "wrong result: 64x64x64: max error"),
        (MEMO_BY_SHAPE, "bench.py", "refused: wrong result on launch 2 of 6 (128^3)"),
    ],
    ids=["check", "bench"],
)
def test_a_kernel_that_reuses_a_cached_result_is_wrong_on_fresh_inputs(
    tmp_path: Path, cheat: str, script: str, expected: str
) -> None:
    result = run_script(example(tmp_path, cheat), script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout + result.stderr


def test_a_kernel_that_writes_into_its_inputs_is_refused(tmp_path: Path) -> None:
    result = run_script(example(tmp_path, WRITES_INPUTS), "check.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused: matmul wrote into its inputs ((64, 64) @ (64, 64))" in result.stderr


@pytest.mark.parametrize("script", ["check.py", "bench.py"])
def test_a_kernel_whose_work_lands_after_it_returns_is_refused(tmp_path: Path, script: str) -> None:
    result = run_script(example(tmp_path, FINISHES_LATE), script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused: the result changed after matmul returned" in result.stderr


@pytest.mark.parametrize(
    ("cheat", "script", "expected"),
    [
        (SLOWS_CLOCK_AT_IMPORT, "bench.py", "refused: time.perf_counter replaced while importing kernel.py"),
        (PATCHES_EVENTS_IN_A_CALL, "bench.py", "refused: torch.cuda.Event.elapsed_time replaced during a call"),
        (PATCHES_THE_BENCHMARK, "bench.py", "refused: common.time_launches replaced while importing kernel.py"),
        (LOOSENS_A_THRESHOLD, "bench.py", "refused: common.MIN_EVENT_SHARE replaced while importing kernel.py"),
        (SHRINKS_THE_CHECK, "check.py", "refused: __main__.SHAPES replaced while importing kernel.py"),
    ],
    ids=["clock-at-import", "events-in-a-call", "harness-function", "harness-threshold", "check-shapes"],
)
def test_a_kernel_that_replaces_the_clocks_or_the_harness_is_refused(
    tmp_path: Path, cheat: str, script: str, expected: str
) -> None:
    result = run_script(example(tmp_path, cheat), script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr
    assert "ms: " not in result.stdout and "correct on" not in result.stdout


def test_a_kernel_that_does_less_once_it_is_being_timed_is_wrong_on_a_timed_launch(tmp_path: Path) -> None:
    result = run_script(example(tmp_path, LAZY_WHEN_TIMED), "bench.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused: wrong result on launch 3 of 6 (128^3)" in result.stderr


def test_events_that_saw_a_fraction_of_the_synchronised_wall_time_are_refused() -> None:
    """The GPU half of the stream guard, on the figures it compares (CUDA events need a GPU): an
    honest launch's events see most of the wall time, a launch on a side stream almost none of it."""
    script = (
        "import common\n"
        "common.refuse_unseen_work(0.42, 0.47)\n"  # an honest 4096^3 launch: events close to the wall
        "print('honest launch accepted', flush=True)\n"
        "common.refuse_unseen_work(0.004, 0.47)\n"  # the events closed before the side stream's work
    )
    folder = Path(__file__).parent.parent / "examples" / "triton_kernel"
    env = os.environ | {"TRITON_INTERPRET": "1", "PYTHONDONTWRITEBYTECODE": "1"}  # nothing written in the example
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert "honest launch accepted" in result.stdout, result.stderr
    assert result.returncode == 1
    assert "refused: CUDA events saw 0.0040 ms but the synchronised wall clock 0.4700 ms" in result.stderr
