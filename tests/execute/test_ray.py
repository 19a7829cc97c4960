"""The Ray executor on a real Ray cluster (127.0.0.1): params and code studies, lost workers, a killed
coordinator. The loop, the store and the proposer run here; each experiment runs as a Ray task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from tests.conftest import PYTHON, cli, write_study
from tests.execute.test_parallel import code_study, most_at_once, rows, runs, study, target

# Reports where it ran; the first experiment to start (any) also records the Ray worker running it and
# then hangs, so that the test can kill that worker.
EXPERIMENT = """
import json, os, sys, time
p = json.load(open(sys.argv[1]))
marker = os.environ.get("MARKER")
if marker:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        fd = None
    if fd is not None:
        pid = os.getpid()
        while not open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"ray::"):
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])  # the parent
        os.write(fd, json.dumps({"worker": pid, "me": os.getpid(),
                                 "id": os.environ["AUTORESEARCH_EXPERIMENT_ID"]}).encode())
        os.close(fd)
        time.sleep(60)
time.sleep(float(os.environ.get("HOLD", "0.3")))
print("cwd:", os.getcwd())
print("loss:", (p["x"] - 1.0) ** 2)
"""


def params_study(tmp_path: Path, address: str, budget: int, env: str = "", sandbox: str = "auto") -> Path:
    return write_study(
        tmp_path / "study",
        f"""
    [study]
    name = "ray"
    [run]
    command = "{PYTHON} exp.py {{params_file}}"
    workers = 2
    executor = "ray"
    ray_address = "{address}"
    resources = {{ cpus = 1 }}
    env = {{ {env} }}
    [metric]
    name = "loss"
    [params]
    x = {{ low = -5.0, high = 5.0 }}
    [proposer]
    use = "random"
    [budget]
    experiments = {budget}
    [sandbox]
    kind = "{sandbox}"
    """,
        {"exp.py": EXPERIMENT},
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.usefixtures("ray_driver_cleanup")
def test_params_study_runs_its_experiments_on_the_cluster(tmp_path: Path, ray_cluster: str) -> None:
    root = params_study(tmp_path, ray_cluster, budget=6)
    outcome = Loop(load_spec(root)).run()
    experiments = rows(root, "ray")
    assert outcome.stopped == "experiment budget reached (6)" and len(experiments) == 6
    assert all(e.status == "done" and e.decision in ("baseline", "kept", "reverted") for e in experiments)
    assert len({e.params["x"] for e in experiments if e.params}) == 6
    for e in experiments:
        assert e.extra["ray_node"] and e.duration and e.duration >= 0.3
        # The command ran in a shipped copy of the spec folder; its logs came back to this machine.
        out = (Path(e.log_dir or "") / "stdout.log").read_text()
        assert "autoresearch-" in out.split("cwd:")[1] and str(root) not in out
        assert json.loads((Path(e.log_dir or "") / "params.json").read_text()) == e.params


@pytest.mark.usefixtures("ray_driver_cleanup")
def test_code_study_on_the_cluster_re_bases_and_checks_protected_files(tmp_path: Path, ray_cluster: str) -> None:
    fast_a = {"edits": {"target.py": target(a=7)}, "rationale": "lower A"}
    slow_b = {"edits": {"target.py": target(b=5, delay=2.5)}, "rationale": "lower B"}
    tamper = {
        "edits": {"target.py": target(a=1) + "open('measure.py', 'a').write('# tampered\\n')\n"},
        "rationale": "edits the measurement",
    }
    root = code_study(
        tmp_path,
        [fast_a, slow_b, tamper],
        budget=7,
        extra=f'executor = "ray"\nray_address = "{ray_cluster}"',
        sandbox="none",  # the write happens on the node and the protected-file hashes there catch it
    )
    Loop(load_spec(root)).run()
    by_id = {e.id: e for e in rows(root, "cm")}
    assert len(by_id) == 7 and all(e.status == "done" for e in by_id.values())
    assert all(e.extra.get("ray_node") for e in by_id.values() if e.decision != "rejected" or e.objective)
    assert by_id[2].decision == "kept" and by_id[3].decision == "kept" and by_id[3].parent_id == 1
    tampered = next(e for e in by_id.values() if e.rationale == "edits the measurement")
    assert tampered.decision == "rejected" and "changed protected file(s): measure.py" in (tampered.reason or "")
    rebased = next(e for e in by_id.values() if e.strategy == "rebase")
    assert rebased.objective == 12 and rebased.decision == "kept"
    shown = subprocess.run(["git", "show", "autoresearch/cm:target.py"], cwd=root, capture_output=True, text=True)
    assert "A = 7" in shown.stdout and "B = 5" in shown.stdout
    assert "tampered" not in (root / "measure.py").read_text()  # the user's checkout is untouched


def test_a_worker_killed_mid_experiment_is_re_run_and_recorded_once(tmp_path: Path, ray_cluster: str) -> None:
    marker = tmp_path / "marker.json"
    # No sandbox: the run reports its host pids in a marker file outside the study, for the test to kill.
    root = params_study(tmp_path, ray_cluster, budget=5, env=f'MARKER = "{marker}"', sandbox="none")
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()):
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
        hung = json.loads(marker.read_text())
        os.kill(hung["worker"], signal.SIGKILL)  # the Ray worker process running the experiment
        out, _ = run.communicate(timeout=90)
    finally:
        run.kill()
    assert run.returncode == 0, out
    experiments = rows(root, "ray")
    assert len(experiments) == 5 and [e.id for e in experiments] == [1, 2, 3, 4, 5]
    assert all(e.status == "done" and e.objective is not None for e in experiments)
    assert len({json.dumps(e.params) for e in experiments}) == 5
    killed = next(e for e in experiments if e.id == int(hung["id"]))
    assert killed.decision in ("baseline", "kept", "reverted") and killed.attempts == 1  # Ray re-ran it
    deadline = time.monotonic() + 60
    while alive(hung["me"]) and time.monotonic() < deadline:  # the reaper kills what the worker left
        time.sleep(0.2)
    assert not alive(hung["me"])


def test_a_coordinator_killed_mid_study_resumes_from_its_store(tmp_path: Path, ray_cluster: str) -> None:
    root = params_study(tmp_path, ray_cluster, budget=8, env='HOLD = "0.8"')
    run = subprocess.Popen([PYTHON, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL)
    store = root / ".autoresearch" / "ray" / "study.db"
    try:
        deadline = time.monotonic() + 60
        while not (store.exists() and sum(e.status == "done" for e in rows(root, "ray")) >= 3):
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.2)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    before = {e.id: e for e in rows(root, "ray")}
    finished = {i: e.finished_at for i, e in before.items() if e.status == "done"}
    assert any(e.status == "running" for e in before.values())  # killed with experiments on the cluster
    done = cli("run", str(root), timeout=120)
    assert done.returncode == 0, done.stderr
    after = rows(root, "ray")
    assert len(after) == 8 and all(e.status == "done" and e.objective is not None for e in after)
    assert {e.id: e.finished_at for e in after if e.id in finished} == finished  # not re-run
    assert len({json.dumps(e.params) for e in after}) == 8


def test_a_missing_ray_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "noray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no module named ray')\n")
    root = params_study(tmp_path, "", budget=2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path])}
    done = subprocess.run([PYTHON, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, env=env)
    assert done.returncode == 1 and 'needs Ray: pip install "autoresearch[ray]"' in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.usefixtures("ray_driver_cleanup")
def test_a_guard_on_the_cluster_runs_on_a_fresh_copy_of_the_candidate(tmp_path: Path, ray_cluster: str) -> None:
    # The candidate breaks sane() and its run leaves a conftest.py that would make the failing pytest
    # guard pass, there on the node, in the folder the run used.
    from tests.redteam.conftest import code_study as redteam_study
    from tests.redteam.conftest import run, whole

    hack = (
        "import pathlib\ndef sane():\n    return False\n"
        "def train():\n    pathlib.Path('conftest.py').write_text('import train\\ntrain.sane = lambda: True\\n')\n"
        "    return 0.5\n"
    )
    root = redteam_study(
        tmp_path / "s",
        {
            "evaluate.py": "import train\nprint('loss:', train.train())\n",
            "train.py": "def sane():\n    return True\ndef train():\n    return 1.0\n",
            "test_train.py": "import train\n\ndef test_sane():\n    assert train.sane()\n",
        },
        [whole(hack, "break sanity, leave a conftest.py behind")],
        run=f'executor = "ray"\nray_address = "{ray_cluster}"',
        extra=f'[[guard]]\nname = "sanity"\ncommand = "{PYTHON} -m pytest -q -p no:cacheprovider test_train.py"',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "rejected"], [e.reason for e in experiments]
    assert "guard sanity failed" in (experiments[1].reason or "") and experiments[1].extra.get("ray_node")


def test_half_a_gpu_each_runs_two_experiments_on_the_clusters_one_gpu(tmp_path: Path, ray_cluster: str) -> None:
    # The cluster declares one GPU; `run.gpus = 0.5` becomes Ray's fractional num_gpus, so two fit at once.
    extra = f'executor = "ray"\n    ray_address = "{ray_cluster}"\n    gpus = 0.5'
    root = study(tmp_path, choices=4, workers=2, extra=extra, hold=1.5)
    done = cli("run", str(root), timeout=180)
    assert done.returncode == 0, done.stderr
    seen = runs(tmp_path)
    assert sorted(r["c"] for r in seen) == list(range(4)) and most_at_once(seen) == 2
    # Ray told each its GPU; autoresearch told each its memory share (no nvidia-smi there: no MiB).
    assert {(r["gpus"], r["fraction"], r["memory_mb"]) for r in seen} == {("0", "0.5", None)}
