"""The Slurm executor on a real one-node Slurm cluster on this machine (.ci/slurm.sh starts it): studies
whose experiments are Slurm jobs, Slurm's time limit, Ctrl-C, and a coordinator killed while its jobs are
queued and running. The loop, the store and the proposer run here; each experiment runs as a job."""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.execute.executor import ExecutorError
from autoresearch.execute.slurm_queue import options, study_tag
from autoresearch.spec import SpecError, load_spec, spec_from_dict
from tests.conftest import PYTHON, cli, wait_for, write_study
from tests.execute.test_parallel import rows

# Appends when it started and ended (and its pid) to runs.jsonl in the spec folder, then reports x as
# the loss after HOLD seconds (the baseline, experiment 1: BASELINE_HOLD, when set).
EXPERIMENT = """
import json, os, sys, time
p = json.load(open(sys.argv[1]))
me = {"id": int(os.environ["AUTORESEARCH_EXPERIMENT_ID"]), "pid": os.getpid(), "x": p["x"]}
def note(**fields):
    with open("runs.jsonl", "a") as out:
        out.write(json.dumps(me | fields) + "\\n")
note(start=time.time(), hidden=not os.path.exists(".autoresearch/sl/study.db"))
time.sleep(float(os.environ.get("BASELINE_HOLD" if me["id"] == 1 else "HOLD") or os.environ["HOLD"]))
note(end=time.time())
print("loss:", p["x"])
"""

# Proposes the values of SEQUENCE in order, then says it is done.
SEQUENCE = """
import json, sys
study = json.load(sys.stdin)
seen = {e["params"]["x"] for e in study["history"]} | {p["params"]["x"] for p in study["pending"]}
left = [x for x in [3.0, 4.0, 1.0, 2.0, 0.5, 6.0, 0.25, 5.5, 0.125] if x not in seen]
print(json.dumps({"params": {"x": left[0]}, "rationale": "next"} if left else {"done": True}))
"""


@pytest.fixture(scope="module")
def slurm_cluster() -> str:
    """The name of the idle node of the Slurm cluster on this machine; skips the tests where there is none."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.skip("no Slurm client commands here; `.ci/slurm.sh` (as root) installs and starts a one-node cluster")
    done = subprocess.run(["sinfo", "--noheader", "--format=%n %t"], capture_output=True, text=True, timeout=30)
    nodes = dict(line.split() for line in done.stdout.splitlines() if len(line.split()) == 2)
    ready = [name for name, state in nodes.items() if state in ("idle", "mix", "alloc")]
    if done.returncode != 0 or not ready:
        pytest.skip(f"no Slurm node is up ({done.stderr.strip() or nodes}); `.ci/slurm.sh` starts one")
    return ready[0]


def study(
    tmp_path: Path,
    *,
    workers: int,
    budget: int,
    hold: float,
    slurm: str = "",
    sandbox: str = "bwrap",
    baseline: str = "",
    timeout: str = "5m",
) -> Path:
    return write_study(
        tmp_path / "study",
        f"""
    [study]
    name = "sl"
    [run]
    command = "{PYTHON} experiment.py {{params_file}}"
    workers = {workers}
    timeout = "{timeout}"
    env = {{ HOLD = "{hold}", BASELINE_HOLD = "{baseline}" }}
    executor = "slurm"
    [run.slurm]
    poll = "0.2s"
    {slurm}
    [metric]
    name = "loss"
    [params]
    x = {{ low = 0.0, high = 10.0, default = 5.0 }}
    [proposer]
    use = "script:{PYTHON} sequence.py"
    [budget]
    experiments = {budget}
    [sandbox]
    kind = "{sandbox}"
    """,
        {"experiment.py": EXPERIMENT, "sequence.py": SEQUENCE},
    )


def noted(root: Path) -> list[dict]:
    path = root / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def jobs(*ids: str) -> dict[str, tuple[str, str]]:
    """Slurm's view of the job IDS: id -> (name, state)."""
    done = subprocess.run(
        ["squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", "--format=%i %j %T"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return {i: (name, state) for i, name, state in (line.split() for line in done.stdout.splitlines())}


def study_jobs(root: Path) -> dict[str, str]:
    """The study's jobs Slurm still runs, queues or completes: id -> state."""
    tag = study_tag(load_spec(root))
    done = subprocess.run(["squeue", "--me", "--noheader", "--format=%i %j %T"], capture_output=True, text=True)
    lines = [line.split() for line in done.stdout.splitlines()]
    return {i: state for i, name, state in lines if name.startswith(tag + ".")}


@pytest.mark.parametrize("submit", ["sbatch", "srun"])
def test_a_params_study_runs_its_experiments_as_slurm_jobs(tmp_path: Path, slurm_cluster: str, submit: str) -> None:
    root = study(tmp_path, workers=2, budget=6, hold=1.5, slurm=f'submit = "{submit}"')
    outcome = Loop(load_spec(root)).run()
    experiments = rows(root, "sl")
    assert outcome.stopped == "experiment budget reached (6)" and len(experiments) == 6
    assert [e.params["x"] for e in experiments if e.params] == [5.0, 3.0, 4.0, 1.0, 2.0, 0.5]
    # Each is judged when it ends against the best known then: replayed in the order they were decided.
    best = None
    for e in sorted(experiments, key=lambda e: e.finished_at or 0):
        expected = "baseline" if best is None else "kept" if (e.objective or 0) < best else "reverted"
        assert (e.id, e.decision) == (e.id, expected) and e.objective == e.params["x"]
        best = e.objective if best is None or expected == "kept" else best
    assert outcome.best is not None and outcome.best.objective == 0.5
    # Each ran as its own Slurm job, named with the study's tag, that Slurm completes on this node (the
    # outcome is read as soon as the job runner wrote it: Slurm may still be finishing the last job) ...
    ids = [str(e.extra["slurm_job"]) for e in experiments]
    assert len(set(ids)) == 6 and {e.extra["slurm_node"] for e in experiments} == {slurm_cluster}
    tag = study_tag(load_spec(root))
    assert all(jobs(*ids)[i][0].startswith(tag + ".") for i in ids)
    wait_for(lambda: all(state == "COMPLETED" for _, state in jobs(*ids).values()), "Slurm to complete the jobs")
    # ... two at a time, in the sandbox: the study folder (store, logs) was hidden from every run.
    runs = noted(root)
    starts = sorted(r["start"] for r in runs if "start" in r)
    ends = sorted(r["end"] for r in runs if "end" in r)
    assert any(s < e for s, e in zip(starts[1:], ends, strict=False))  # a run started before another ended
    assert all(r["hidden"] for r in runs if "start" in r)
    log = Path(experiments[1].log_dir or "")
    assert (log / "stdout.log").read_text() == "loss: 3.0\n" and (log / "slurm.sh").read_text().startswith("#!/bin/sh")
    assert json.loads((log / "slurm-result.json").read_text())["exit_code"] == 0
    wait_for(lambda: study_jobs(root) == {}, "nothing of the study left on the cluster")


def test_a_job_stopped_by_slurms_time_limit_is_a_timeout_and_leaves_no_process(
    tmp_path: Path, slurm_cluster: str
) -> None:
    # The run outlives Slurm's 1-minute limit (its own timeout is 5 minutes) and leaves a process in a new
    # session behind it; no sandbox, so that the pids it notes are this machine's. It takes 60 to 90 s:
    # Slurm's limits are whole minutes, and slurmctld looks for jobs past theirs every 30 s.
    root = study(tmp_path, workers=1, budget=2, hold=600, slurm='time = "1m"', sandbox="none")
    stray = "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
    stray += "    open('stray.pid', 'w').write(str(os.getpid()))\n    time.sleep(600)\n"
    (root / "experiment.py").write_text(stray + EXPERIMENT)
    started = time.monotonic()
    outcome = Loop(load_spec(root)).run()
    took = time.monotonic() - started
    [baseline] = rows(root, "sl")
    assert baseline.decision == "failed" and 60 <= took < 150, (baseline.reason, took)
    job = baseline.extra["slurm_job"]
    why = f"timed out: Slurm stopped job {job} at its time limit of 1 min ([run.slurm] time)"
    assert why in (baseline.reason or "")
    assert outcome.stopped.startswith("the baseline failed: timed out: Slurm stopped job")
    assert jobs(job)[job][1] == "TIMEOUT"
    log = Path(baseline.log_dir or "")
    assert json.loads((log / "slurm-result.json").read_text())["signal"] == signal.SIGTERM  # the runner swept
    assert "DUE TO TIME LIMIT" in (log / "slurm.log").read_text()
    pids = [r["pid"] for r in noted(root)] + [int((root / "stray.pid").read_text())]
    assert not [pid for pid in pids if alive(pid)]  # the run and what it left in another session are gone


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("mode", ["job", "pilot"])
def test_a_study_killed_with_jobs_queued_and_running_resumes_and_runs_each_experiment_once(
    tmp_path: Path, slurm_cluster: str, mode: str
) -> None:
    # Three workers, each job asking for half the node's CPUs: one job at least waits in the queue.
    node_cpus = subprocess.run(["sinfo", "--noheader", "--format=%c"], capture_output=True, text=True).stdout
    half = math.ceil(int(node_cpus.split()[0].rstrip("+")) / 2)
    # In pilot mode: a pilot per worker, one of them queued, each running or given an experiment.
    root = study(tmp_path, workers=3, budget=7, hold=4, sandbox="none", slurm=f'cpus = {half}\nmode = "{mode}"')
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL)
    try:
        states = wait_for(
            lambda: (s := study_jobs(root)) and len(s) == 3 and {"RUNNING", "PENDING"} <= set(s.values()) and s,
            "three jobs, one running and one queued at least",
        )
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert isinstance(states, dict)
    before = {e.id: e for e in rows(root, "sl")}
    finished = {i: e.finished_at for i, e in before.items() if e.status == "done"}
    assert sum(e.status == "running" for e in before.values()) == 3
    left = study_jobs(root)
    assert set(states) <= set(left)  # the dead coordinator's jobs are still on the cluster

    done = cli("run", str(root), timeout=240)
    assert done.returncode == 0, done.stderr
    after = rows(root, "sl")
    assert [e.id for e in after] == list(range(1, 8)) and all(e.status == "done" for e in after)
    assert all(e.objective == e.params["x"] for e in after if e.params)
    assert {e.id: e.finished_at for e in after if e.id in finished} == finished  # finished ones not re-run
    seen = jobs(*left)
    assert all(state == "CANCELLED" for _, state in seen.values()), seen  # cancelled, not left to finish
    ended = [r["id"] for r in noted(root) if "end" in r]
    assert sorted(ended) == list(range(1, 8))  # each experiment ran to its end exactly once
    wait_for(lambda: study_jobs(root) == {}, "Slurm to finish the study's last jobs")


@pytest.mark.parametrize("slurm", ['submit = "sbatch"', 'submit = "srun"', 'mode = "pilot"'])
def test_ctrl_c_cancels_the_studys_jobs(tmp_path: Path, slurm_cluster: str, slurm: str) -> None:
    root = study(tmp_path, workers=2, budget=5, hold=60, sandbox="none", baseline="0.3", slurm=slurm)
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: sum(e.status == "running" for e in rows_or_none(root)) == 2, "two experiments running")
        running = wait_for(lambda: (s := study_jobs(root)) and len(s) == 2 and s, "their two jobs")
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 130
    finally:
        run.kill()
    assert isinstance(running, dict)
    assert wait_for(lambda: all(state == "CANCELLED" for _, state in jobs(*running).values()), "cancelled jobs")
    assert [e.status for e in rows(root, "sl")] == ["done", "running", "running"]  # re-run on resume


def rows_or_none(root: Path) -> list:
    return rows(root, "sl") if (root / ".autoresearch" / "sl" / "study.db").exists() else []


@pytest.mark.parametrize(("mode", "refused"), [("job", "the job"), ("pilot", "the pilot job")])
def test_a_job_slurm_refuses_fails_with_slurms_reason(
    tmp_path: Path, slurm_cluster: str, mode: str, refused: str
) -> None:
    root = study(tmp_path, workers=1, budget=2, hold=0, slurm=f'partition = "nowhere"\nmode = "{mode}"')
    outcome = Loop(load_spec(root)).run()
    [baseline] = rows(root, "sl")
    assert baseline.decision == "failed"
    assert f"sbatch refused {refused}: sbatch: error: Batch job submission failed: Invalid partition name" in (
        baseline.reason or ""
    ), baseline.reason
    assert (baseline.reason or "").endswith("; check [run.slurm]")
    assert outcome.stopped.startswith("the baseline failed")


def slurm_spec(tmp_path: Path, run: dict) -> object:
    data = {"run": {"command": "true", **run}, "metric": {"name": "loss"}, "params": {"x": {"low": 0, "high": 1}}}
    return spec_from_dict(data, root=tmp_path)


def test_run_slurm_options_become_sbatch_options_and_mistakes_name_the_fix(tmp_path: Path) -> None:
    spec = slurm_spec(
        tmp_path,
        {
            "executor": "slurm",
            "gpus": 2,
            "cpus_per_experiment": 4,
            "slurm": {"partition": "gpu", "memory": "8GiB", "qos": "high", "extra": ["--constraint=a100"]},
        },
    )
    assert options(spec) == [  # type: ignore[arg-type]
        "--cpus-per-task=4",
        "--partition=gpu",
        "--gres=gpu:2",
        "--mem=8192M",
        "--qos=high",
        "--constraint=a100",
    ]
    mistakes = {
        "[run.slurm] applies to executor = \"slurm\" (executor is 'local')": {"slurm": {"partition": "a"}},
        "gpus = 0.5: Slurm gives each job whole GPUs (gres)": {"executor": "slurm", "gpus": 0.5},
        "extra option 'constraint=a100' must be one sbatch option starting with '-'": {
            "executor": "slurm",
            "slurm": {"extra": ["constraint=a100"]},
        },
        "poll = 0.01s is out of range; use 0.05s to 300s": {"executor": "slurm", "slurm": {"poll": "10ms"}},
        'resources applies to executor = "ray"; set it, or use [run.slurm] instead': {
            "executor": "slurm",
            "resources": {"cpus": 2},
        },
        "run.slurm.partition": {"executor": "slurm", "slurm": {"partition": "a b"}},
        'submit = "srun" applies to mode = "job"; pilots are submitted with sbatch': {
            "executor": "slurm",
            "slurm": {"mode": "pilot", "submit": "srun"},
        },
        'idle applies to mode = "pilot"': {"executor": "slurm", "slurm": {"idle": "1m"}},
        "idle = 0.5s is out of range; use 1s to 7d": {"executor": "slurm", "slurm": {"mode": "pilot", "idle": "0.5s"}},
        "run.slurm.mode": {"executor": "slurm", "slurm": {"mode": "pilots"}},
    }
    for message, run in mistakes.items():
        with pytest.raises(SpecError) as caught:
            slurm_spec(tmp_path, run)
        assert message in str(caught.value), str(caught.value)


@pytest.mark.parametrize("mode", ["job", "pilot"])
def test_a_losing_run_is_pruned_while_its_job_runs(tmp_path: Path, slurm_cluster: str, mode: str) -> None:
    # [prune] watches the job's log on the shared file system and cancels the job when its curve loses
    # (in pilot mode: asks the pilot to stop the run, and the pilot runs on).
    root = study(tmp_path, workers=1, budget=2, hold=0, slurm=f'mode = "{mode}"', sandbox="none")
    (root / "sequence.py").write_text(SEQUENCE.replace("[3.0, 4.0,", "[6.0, 4.0,"))
    curve = 'import json, sys, time\nx = json.load(open(sys.argv[1]))["x"]\nfor _ in range(10):\n'
    curve += '    print("loss:", x, flush=True)\n    time.sleep(0.4)\n'
    (root / "experiment.py").write_text(curve)
    with (root / "autoresearch.toml").open("a") as spec:
        spec.write("[prune]\nmin_runs = 1\n")
    Loop(load_spec(root)).run()
    baseline, losing = rows(root, "sl")
    assert baseline.decision == "baseline" and baseline.objective == 5.0
    assert losing.decision == "pruned" and (losing.reason or "").startswith("pruned at step 1: loss 6"), losing.reason
    assert (losing.duration or 0) < 3  # stopped, not run to its end (4 s)
    job = losing.extra["slurm_job"]
    if mode == "job":
        assert wait_for(lambda: jobs(job)[job][1] == "CANCELLED", "Slurm to end the pruned job")
    else:
        assert baseline.extra["slurm_job"] == job  # one pilot ran both
        assert wait_for(lambda: jobs(job)[job][1] == "COMPLETED", "the pilot to leave when the study ended")


# -- pilot mode: one long-lived Slurm job per worker runs the experiments in turn -------------------


def pilots(root: Path) -> dict[str, Path]:
    """The study's pilots: their mailbox folders, by key."""
    folder = root / ".autoresearch" / "sl" / "slurm-pilots"
    return {path.name: path for path in folder.iterdir()} if folder.exists() else {}


def test_a_params_study_runs_its_experiments_on_one_pilot_per_worker(tmp_path: Path, slurm_cluster: str) -> None:
    root = study(tmp_path, workers=2, budget=6, hold=0.5, slurm='mode = "pilot"\ncpus = 1')
    outcome = Loop(load_spec(root)).run()
    experiments = rows(root, "sl")
    assert outcome.stopped == "experiment budget reached (6)" and len(experiments) == 6
    assert [e.params["x"] for e in experiments if e.params] == [5.0, 3.0, 4.0, 1.0, 2.0, 0.5]
    assert all(e.objective == e.params["x"] for e in experiments if e.params)
    # Two pilots ran them all (the baseline's, and one more once two ran at once), on this node, two at a
    # time, in the sandbox: the study folder (store, logs, the pilots' mailboxes) was hidden from every run.
    ids = {str(e.extra["slurm_job"]) for e in experiments}
    assert len(ids) == 2 and {e.extra["slurm_node"] for e in experiments} == {slurm_cluster}
    tag = study_tag(load_spec(root))
    assert all(name.startswith(tag + ".pilot-") for name, _ in jobs(*ids).values())
    runs = noted(root)
    starts = sorted(r["start"] for r in runs if "start" in r)
    ends = sorted(r["end"] for r in runs if "end" in r)
    assert any(s < e for s, e in zip(starts[1:], ends, strict=False))
    assert all(r["hidden"] for r in runs if "start" in r)
    log = Path(experiments[1].log_dir or "")
    assert json.loads((log / "slurm-job.json").read_text())["command"].endswith(f"experiment.py {log}/params.json")
    assert json.loads((log / "slurm-result.json").read_text())["exit_code"] == 0
    # Each pilot asked for what a job asks for, and left when the study ended.
    for folder in pilots(root).values():
        script = (folder / "pilot.sh").read_text()
        assert "--cpus-per-task=1" in script and "-m autoresearch.execute.slurm_pilot" in script
    wait_for(lambda: study_jobs(root) == {}, "the pilots to leave")
    assert all(state == "COMPLETED" for _, state in jobs(*ids).values())
    ran = [
        f
        for f in pilots(root).values()
        if (f / "started").exists() and f.joinpath("started").read_text().strip() in ids
    ]
    assert len(ran) == 2 and {(f / "exited").read_text() for f in ran} == {"the study ended\n"}


def test_a_pilot_stops_a_run_at_its_timeout_and_takes_the_next(tmp_path: Path, slurm_cluster: str) -> None:
    root = study(
        tmp_path, workers=1, budget=3, hold=60, baseline="0.2", timeout="2s", slurm='mode = "pilot"', sandbox="none"
    )
    Loop(load_spec(root)).run()
    baseline, first, second = rows(root, "sl")
    assert baseline.decision == "baseline"
    for late in (first, second):
        assert late.decision == "failed" and late.reason == "timed out after 2s", late.reason
        assert (late.duration or 0) < 10
    assert len({e.extra["slurm_job"] for e in (baseline, first, second)}) == 1  # the same pilot ran on
    assert not [r["pid"] for r in noted(root) if alive(r["pid"])]


def test_a_pilot_cancelled_mid_run_fails_that_run_and_a_new_pilot_takes_the_next(
    tmp_path: Path, slurm_cluster: str
) -> None:
    root = study(tmp_path, workers=1, budget=3, hold=3, baseline="0.2", sandbox="none", slurm='mode = "pilot"')
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(r["id"] == 2 and "start" in r for r in noted(root)), "the second run to start")
        [pilot] = study_jobs(root)
        subprocess.run(["scancel", pilot], check=True)  # as an admin would, or a lost node
        assert run.wait(timeout=60) == 0
    finally:
        run.kill()
    baseline, cut, third = rows(root, "sl")
    assert cut.decision == "failed"
    assert cut.reason == f"Slurm job {pilot} was cancelled from outside the study (scancel)", cut.reason
    assert baseline.extra["slurm_job"] == cut.extra["slurm_job"] == pilot and jobs(pilot)[pilot][1] == "CANCELLED"
    assert third.status == "done" and third.objective == 4.0 and third.extra["slurm_job"] != pilot  # a new pilot's
    assert not [r["pid"] for r in noted(root) if alive(r["pid"])]  # the cut run's processes are gone


def test_a_pilot_leaves_rather_than_let_its_time_limit_cut_the_next_run(tmp_path: Path, slurm_cluster: str) -> None:
    # A 1-minute pilot keeps 15 s in hand beyond a run's 25 s timeout and 5 s kill grace: it takes a run
    # only while 45 s are left. The baseline holds it for 16 s: the second run is a fresh pilot's.
    slurm = 'mode = "pilot"\ntime = "1m"'
    root = study(tmp_path, workers=1, budget=2, hold=0.2, baseline="16", timeout="25s", sandbox="none", slurm=slurm)
    Loop(load_spec(root)).run()
    experiments = rows(root, "sl")
    assert [e.status for e in experiments] == ["done"] * 2 and all(e.objective == e.params["x"] for e in experiments)
    first, last = experiments[0].extra["slurm_job"], experiments[1].extra["slurm_job"]
    assert first != last
    wait_for(lambda: study_jobs(root) == {}, "the pilots to leave")
    assert {state for _, state in jobs(first, last).values()} == {"COMPLETED"}  # neither stopped at its limit
    reasons = [(folder / "exited").read_text() for folder in pilots(root).values()]
    assert any("left of its time limit, and the next job may take 30s" in why for why in reasons), reasons


def test_a_pilot_whose_coordinator_vanished_leaves_once_idle(tmp_path: Path, slurm_cluster: str) -> None:
    slurm = 'mode = "pilot"\nidle = "2s"'
    root = study(tmp_path, workers=1, budget=5, hold=1.5, baseline="0.2", sandbox="none", slurm=slurm)
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(r["id"] == 2 and "start" in r for r in noted(root)), "the second run to start")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    [pilot] = study_jobs(root)
    wait_for(lambda: study_jobs(root) == {}, "the idle pilot to leave", timeout=30)
    assert jobs(pilot)[pilot][1] == "COMPLETED"
    [folder] = pilots(root).values()
    assert (folder / "exited").read_text() == "no job for 2s ([run.slurm] idle)\n"
    assert any(r["id"] == 2 and "end" in r for r in noted(root))  # it ran its run to the end first


def test_a_pilot_too_short_for_one_run_is_refused_before_the_study_starts(tmp_path: Path) -> None:
    root = study(tmp_path, workers=1, budget=2, hold=0, timeout="5m", slurm='mode = "pilot"\ntime = "5m"')
    with pytest.raises(ExecutorError, match=r"\[run.slurm\] time = 5 min leaves a pilot no time for an experiment"):
        Loop(load_spec(root)).run()


@pytest.mark.parametrize("mode", ["job", "pilot"])
def test_a_job_whose_runner_cannot_start_on_the_node_fails_naming_slurms_log(
    tmp_path: Path, slurm_cluster: str, mode: str
) -> None:
    # In pilot mode the pilot itself cannot start: the run fails once, it is not handed to pilot after pilot.
    slurm = f'mode = "{mode}"\npython = "/nowhere/python"'
    root = study(tmp_path, workers=1, budget=2, hold=0, sandbox="none", slurm=slurm)
    outcome = Loop(load_spec(root)).run()
    [baseline] = rows(root, "sl")
    job = baseline.extra.get("slurm_job")
    assert f"Slurm job {job} (FAILED) ended before autoresearch's job runner reported" in (baseline.reason or "")
    assert "/nowhere/python" in (baseline.reason or "") and outcome.stopped.startswith("the baseline failed")
