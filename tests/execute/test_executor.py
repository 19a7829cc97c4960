"""The executor interface: a job is self-contained (it pickles, nothing in it calls back), an executor
runs it to its end and says how it ended; `run.executor` names a registered one."""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
from pathlib import Path

import pytest

from autoresearch.execute import sandbox
from autoresearch.execute.executor import Job, make_executor
from autoresearch.execute.local import LocalExecutor
from autoresearch.execute.prune import LogWatcher, study_pruner
from autoresearch.spec import Spec, SpecError, spec_from_dict


def spec_in(root: Path, **extra: object) -> Spec:
    data = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}
    return spec_from_dict(data | extra, root=root)


def job_in(spec: Spec, command: str, *, timeout: float = 30, watch: LogWatcher | None = None) -> Job:
    logs = spec.study_dir / "experiments" / "00001"
    logs.mkdir(parents=True)
    view = sandbox.View(spec.root, writable=(logs / "output",))
    (logs / "output").mkdir()
    return Job(
        command=command,
        cwd=spec.root,
        env={"GREETING": "hello"},
        timeout=timeout,
        kill_grace=1.0,
        stdout=logs / "stdout.log",
        stderr=logs / "stderr.log",
        anchor=spec.root,
        max_log_bytes=1024**2,
        sandbox=tuple(sandbox.prefix(spec, view)),
        view=view,
        watch=watch,
        label="test experiments/00001",
    )


def test_a_job_pickles_and_runs_under_the_local_executor(tmp_path: Path) -> None:
    spec = spec_in(tmp_path)
    command = 'echo "loss: 0.5 $GREETING"; echo trouble >&2; echo made > "$AUTORESEARCH_OUT/file"; exit 3'
    job = job_in(spec, command.replace("$AUTORESEARCH_OUT", str(spec.study_dir / "experiments/00001/output")))
    shipped = pickle.loads(pickle.dumps(job))  # what a cluster executor sends to a node
    assert shipped == job
    result = LocalExecutor(spec).run(shipped)
    assert result.exit_code == 3 and not result.succeeded and result.ending == "exited" and result.duration > 0
    assert result.stdout_path.read_text() == "loss: 0.5 hello\n"
    assert result.stderr_path.read_text() == "trouble\n"
    assert (spec.study_dir / "experiments/00001/output/file").read_text() == "made\n"
    assert pickle.loads(pickle.dumps(result)) == result  # and so does its result, coming back


def test_a_job_past_its_timeout_ends_as_a_timeout_and_ctrl_c_kills_a_running_one(tmp_path: Path) -> None:
    spec = spec_in(tmp_path)
    executor = LocalExecutor(spec)
    late = executor.run(job_in(spec, "sleep 30", timeout=0.5))
    assert late.timed_out and late.exit_code is None and late.ending == "timeout" and late.duration < 10

    second = spec_in(tmp_path / "second")
    killer = threading.Timer(0.5, executor.cancel_all)
    killer.start()
    started = time.monotonic()
    stopped = executor.run(job_in(second, "sleep 30"))
    killer.join()
    assert stopped.ending == "killed" and stopped.exit_code == -9 and time.monotonic() - started < 10


def test_a_jobs_watch_travels_with_it_and_its_verdict_comes_back(tmp_path: Path) -> None:
    spec = spec_in(tmp_path, prune={"min_runs": 1})
    pruner = study_pruner(spec, [[0.1, 0.1, 0.1, 0.1]])
    assert pruner is not None
    logs = spec.study_dir / "experiments" / "00001"
    losing = "for i in 1 2 3 4 5 6 7 8 9 10; do echo loss: 5; sleep 0.3; done"
    job = pickle.loads(pickle.dumps(job_in(spec, losing, watch=LogWatcher(logs / "stdout.log", pruner))))
    result = LocalExecutor(spec).run(job)
    assert result.stopped and result.ending == "stopped" and result.duration < 3
    assert result.verdict is not None and result.verdict.reason().startswith("pruned at step 1: loss 5")


def test_run_executor_names_a_registered_executor(tmp_path: Path) -> None:
    assert isinstance(make_executor(spec_in(tmp_path)), LocalExecutor)
    with pytest.raises(SpecError) as caught:
        spec_in(tmp_path, run={"command": "true", "executor": "lokal"})
    message = str(caught.value)
    assert "unknown executor 'lokal' (did you mean 'local'?); registered: local, ray" in message


def test_a_job_carries_what_autoresearch_sets_and_takes_the_allowlisted_rest_where_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "coordinators-own")  # passed where the job runs, never shipped with it
    job = job_in(spec_in(tmp_path), "true")
    node = {"PATH": "/node/bin", "HOME": "/home/node", "SECRET_KEY": "x", "CUDA_VISIBLE_DEVICES": "3", "TOKEN": "t"}
    assert job.environment(node) == {"PATH": "/node/bin", "HOME": "/home/node", "CUDA_VISIBLE_DEVICES": "3"} | job.env
    passing = dataclasses.replace(job, pass_env=("TOKEN",))
    assert passing.environment(node)["TOKEN"] == "t" and "SECRET_KEY" not in passing.environment(node)
    assert b"coordinators-own" not in pickle.dumps(passing)
    assert passing.environment()["TOKEN"] == "coordinators-own"  # run here, it is this machine's
