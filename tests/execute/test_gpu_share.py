"""Fractional GPUs (`run.gpus = 1/k`): k experiments share a GPU, each told which one and its memory share.

The GPUs are a fake `nvidia-smi` on PATH that prints what the real one prints for the query autoresearch
makes; the experiments are real subprocesses run by the real loop and CLI.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from autoresearch.execute.resources import plan_slots
from autoresearch.spec import load_spec
from tests.conftest import cli
from tests.execute.test_parallel import most_at_once, overlapping, runs, study

# Two 80 GB GPUs, as `nvidia-smi --query-gpu=index,memory.total --format=csv,noheader,nounits` lists them.
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *--query-gpu=index,memory.total*nounits*) printf '0, 81559\\n1, 81559\\n' ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def two_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")


@pytest.mark.usefixtures("two_gpus")
def test_half_a_gpu_each_runs_four_experiments_at_once_two_per_gpu(tmp_path: Path) -> None:
    root = study(tmp_path, choices=8, workers=4, extra="gpus = 0.5", hold=1.5)
    done = cli("run", str(root), timeout=120)
    assert done.returncode == 0, done.stderr
    seen = runs(tmp_path)
    assert sorted(r["c"] for r in seen) == list(range(8))
    assert most_at_once(seen) == 4
    # Every experiment had one GPU and half of its memory (81559 MiB / 2), and the exported env said so.
    assert {r["gpus"] for r in seen} == {"0", "1"}
    assert {(r["fraction"], r["memory_mb"]) for r in seen} == {("0.5", "40779")}
    # Of any experiments running at once, never more than two were on one GPU.
    for s in seen:
        at_once = [r for r in seen if r["start"] <= s["start"] < r["end"]]
        assert max(Counter(r["gpus"] for r in at_once).values()) <= 2
    assert any(a["gpus"] == b["gpus"] for a, b in overlapping(seen))  # a GPU was really shared


@pytest.mark.usefixtures("two_gpus")
def test_a_quarter_packs_four_per_gpu_and_workers_are_capped_at_what_fits(tmp_path: Path) -> None:
    root = study(tmp_path, choices=3, workers=10, extra="gpus = 0.25")
    plan = plan_slots(load_spec(root).run, 10)
    # Two GPUs hold eight quarter-GPU experiments: dealt round-robin, four per GPU, each told its share.
    assert plan.workers == 8
    assert Counter(slot.gpus for slot in plan.slots.values()) == {("0",): 4, ("1",): 4}
    assert {slot.env()["AUTORESEARCH_GPU_MEMORY_FRACTION"] for slot in plan.slots.values()} == {"0.25"}
    assert {slot.env()["AUTORESEARCH_GPU_MEMORY_MB"] for slot in plan.slots.values()} == {"20389"}
    assert plan.note == "10 workers x 0.25 GPU need 3 GPUs but 2 are available (0,1): running 8 experiment(s) at once"
    # Two workers on two GPUs each get a GPU to themselves (still told their share, which caps them).
    assert sorted(slot.gpus for slot in plan_slots(load_spec(root).run, 2).slots.values()) == [("0",), ("1",)]


@pytest.mark.usefixtures("two_gpus")
def test_gpu_ids_pick_the_shared_gpus_and_keep_their_memory(tmp_path: Path) -> None:
    root = study(tmp_path, choices=3, workers=4, extra="gpus = 0.5\n    gpu_ids = [1]")
    plan = plan_slots(load_spec(root).run, 4)
    assert plan.workers == 2 and plan.note.endswith("(1): running 2 experiment(s) at once")
    assert [slot.env() for slot in plan.slots.values()] == [
        {"CUDA_VISIBLE_DEVICES": "1", "AUTORESEARCH_GPU_MEMORY_FRACTION": "0.5", "AUTORESEARCH_GPU_MEMORY_MB": "40779"}
    ] * 2


@pytest.mark.usefixtures("two_gpus")
def test_whole_gpus_are_not_told_a_memory_share(tmp_path: Path) -> None:
    root = study(tmp_path, choices=3, workers=2, extra="gpus = 1")
    plan = plan_slots(load_spec(root).run, 2)
    assert [slot.env() for slot in plan.slots.values()] == [
        {"CUDA_VISIBLE_DEVICES": "0"},
        {"CUDA_VISIBLE_DEVICES": "1"},
    ]


@pytest.mark.parametrize(
    ("gpus", "message"),
    [
        ("0.3", "run.gpus: 0.3 is neither a whole number nor 1/k (0.5, 0.25, ...); use 0.5 for 2 experiments"),
        ("1.5", "run.gpus: 1.5 is neither a whole number nor 1/k (0.5, 0.25, ...)"),
        ("0.4", "run.gpus: 0.4 is neither a whole number nor 1/k (0.5, 0.25, ...)"),
        ("-0.5", "run.gpus: Input should be greater than or equal to 0"),
        ("nan", "run.gpus: Input should be a finite number"),
    ],
)
def test_a_gpu_request_that_is_neither_whole_nor_a_share_is_a_one_line_error(
    tmp_path: Path, gpus: str, message: str
) -> None:
    root = study(tmp_path, choices=3, workers=1, extra=f"gpus = {gpus}")
    done = cli("run", str(root))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_third_written_to_four_places_is_one_gpu_shared_by_three(tmp_path: Path) -> None:
    root = study(tmp_path, choices=3, workers=1, extra="gpus = 0.3333")
    assert load_spec(root).run.gpus == 1 / 3


def test_a_share_with_no_gpu_found_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no nvidia-smi here
    root = study(tmp_path, choices=3, workers=2, extra="gpus = 0.5")
    done = cli("run", str(root))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "run.gpus = 0.5 per experiment, but nvidia-smi found 0 GPU(s)" in done.stderr
