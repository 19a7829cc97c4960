from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, PYTHON, bowl_spec, cli, study_rows, wait_for, write_study


def run_loop(root: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return Loop(load_spec(root), **kwargs).run()  # type: ignore[arg-type]


def experiments(root: Path, name: str = "bowl"):  # type: ignore[no-untyped-def]
    store = Store(root / ".autoresearch" / name, create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def test_baseline_first_then_keep_only_improvements(bowl_study: Path) -> None:
    outcome = run_loop(bowl_study)
    rows = experiments(bowl_study)
    assert len(rows) == 10 and outcome.stopped == "experiment budget reached (10)"
    assert rows[0].decision == "baseline" and rows[0].params == {"x": 0.0, "y": 0.0}
    assert rows[0].objective == 5.0
    best = rows[0].objective
    for row in rows[1:]:
        assert row.status == "done" and row.parent_id is not None
        if row.decision == "kept":
            assert row.objective < best
            best = row.objective
        else:
            assert row.decision == "reverted" and row.objective >= best
    assert outcome.best is not None and outcome.best.objective == best
    log = Path(rows[3].log_dir or "") / "stdout.log"
    assert log.read_text().startswith("loss:")


def test_maximize(tmp_path: Path) -> None:
    root = write_study(
        tmp_path, bowl_spec(8).replace('name = "bowl"', 'name = "bowl"\ndirection = "maximize"'), {"bowl.py": BOWL}
    )
    run_loop(root)
    rows = experiments(root)
    best = rows[0].objective
    for row in rows[1:]:
        assert (row.decision == "kept") == (row.objective > best)
        best = max(best, row.objective)


def test_failures_are_recorded_and_never_stop_the_study(tmp_path: Path) -> None:
    # x picks the failure: crash, hang, garbage, non-finite, flood, ok
    script = """
    import json, sys, time
    p = json.load(open(sys.argv[1]))
    mode = p["mode"]
    if mode == "crash": raise SystemExit("boom: out of memory")
    if mode == "hang": time.sleep(60)
    if mode == "garbage": print("loss: twelve\\n\\x00\\xff garbage")
    if mode == "nan": print("loss: nan")
    if mode == "flood":
        for i in range(60000): print("x" * 20)
        print("loss: 2.0")
    if mode == "ok": print("loss: 1.0")
    """
    spec = f"""
    [study]
    name = "bad"
    [run]
    command = "{PYTHON} exp.py {{params_file}}"
    timeout = "10s"  # generous: a loaded machine can take seconds just to start Python
    kill_grace = "1s"
    max_log_size = "1MB"
    [metric]
    name = "loss"
    [params]
    mode = {{ choices = ["ok", "crash", "hang", "garbage", "nan", "flood"] }}
    [proposer]
    use = "random"
    [budget]
    experiments = 30
    """
    root = write_study(tmp_path, spec, {"exp.py": script})
    outcome = run_loop(root)
    rows = experiments(root, "bad")
    by_mode = {row.params["mode"]: row for row in rows if row.params}
    assert set(by_mode) == {"ok", "crash", "hang", "garbage", "nan", "flood"}
    assert "exhausted" in outcome.stopped  # six choices, each tried exactly once
    assert len(rows) == 6
    assert by_mode["ok"].decision == "baseline"
    assert by_mode["crash"].decision == "failed" and "boom: out of memory" in by_mode["crash"].reason
    assert by_mode["hang"].decision == "failed" and "timed out after 10s" in by_mode["hang"].reason
    assert by_mode["garbage"].decision == "failed" and "not found" in by_mode["garbage"].reason
    assert by_mode["nan"].decision == "failed" and "nan" in by_mode["nan"].reason
    # Over the log cap the middle of stdout is dropped: a metric line may have been cut, so none is trusted.
    assert by_mode["flood"].decision == "failed" and "metric unreadable" in by_mode["flood"].reason
    assert "run.max_log_size" in by_mode["flood"].reason
    assert Path(by_mode["flood"].log_dir, "stdout.log").stat().st_size < 1_100_000


def test_budgets_patience_and_target(tmp_path: Path) -> None:
    root = write_study(tmp_path / "p", bowl_spec(100, "random", "patience = 3"), {"bowl.py": BOWL})
    outcome = run_loop(root)
    rows = experiments(root)
    assert "patience" in outcome.stopped
    assert [r.decision for r in rows[-3:]] == ["reverted"] * 3

    root = write_study(tmp_path / "t", bowl_spec(200, "tpe", "target = 4.0"), {"bowl.py": BOWL})
    outcome = run_loop(root)
    assert outcome.stopped == "target 4 reached" and outcome.best is not None and outcome.best.objective <= 4.0

    root = write_study(tmp_path / "h", bowl_spec(1000, "random", "hours = 0.0003"), {"bowl.py": BOWL})
    start = time.monotonic()
    outcome = run_loop(root)
    assert "time budget" in outcome.stopped and time.monotonic() - start < 60  # not 1000 experiments


def test_resume_continues_without_rerunning(bowl_study: Path) -> None:
    spec = load_spec(bowl_study)
    Loop(spec.model_copy(update={"budget": spec.budget.model_copy(update={"experiments": 4})})).run()
    first = experiments(bowl_study)
    run_loop(bowl_study)
    rows = experiments(bowl_study)
    assert len(rows) == 10 and [r.id for r in rows] == list(range(1, 11))
    assert [(r.id, r.finished_at) for r in rows[:4]] == [(r.id, r.finished_at) for r in first]
    assert sum(r.decision == "baseline" for r in rows) == 1


def test_second_run_is_refused_while_first_runs(tmp_path: Path) -> None:
    root = write_study(
        tmp_path,
        bowl_spec(3).replace("bowl.py {params_file}", "slow.py"),
        {"slow.py": "import time; time.sleep(30); print('loss: 1')"},
    )
    first = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = root / ".autoresearch" / "bowl" / "run.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.1)
        second = cli("run", str(root))
        assert second.returncode == 1
        assert f"study is already running (pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()


def test_ctrl_c_stops_cleanly_and_resume_reruns_the_interrupted(tmp_path: Path) -> None:
    root = write_study(
        tmp_path,
        bowl_spec(4).replace("bowl.py {params_file}", "slow.py {params_file}"),
        {"slow.py": "import sys, time\ntime.sleep(float(open(sys.argv[1]).read().count('x')) + 1.5)\nprint('loss: 1')"},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Interrupt inside the second experiment: once its row says it is running (an event, not a time).
        study = root / ".autoresearch" / "bowl"
        wait_for(lambda: [r.status for r in study_rows(study)] == ["done", "running"], "experiment 2 to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)  # like any command a user interrupts
    assert "interrupted" in out and "Traceback" not in err
    assert "1 finished, 1 interrupted" in out  # the interrupted one is not counted as finished
    rows = experiments(root)
    assert [r.status for r in rows] == ["done", "running"] and rows[0].decision == "baseline"
    assert cli("run", str(root)).returncode == 0
    rows = experiments(root)
    assert len(rows) == 4 and all(r.status == "done" for r in rows) and rows[1].attempts == 1


def test_params_reach_the_experiment_every_way(tmp_path: Path) -> None:
    script = """
    import json, os, sys, tomllib
    p = tomllib.load(open(sys.argv[1], "rb"))
    print(json.dumps({"file": p, "arg": sys.argv[2], "env": os.environ["AUTORESEARCH_PARAM_LAYERS"],
                      "seed": os.environ["AUTORESEARCH_SEED"], "secret": os.environ.get("MY_API_KEY")}))
    print("loss:", p["layers"])
    """
    spec = f"""
    [run]
    command = "{PYTHON} exp.py {{params_file}} {{act}} > /dev/stderr; {PYTHON} exp.py {{params_file}} {{act}}"
    params_file = "config.toml"
    [metric]
    name = "loss"
    [params]
    layers = {{ low = 1, high = 4 }}
    act = {{ choices = ["relu x", "tanh"] }}
    [proposer]
    use = "random"
    [budget]
    experiments = 3
    """
    root = write_study(tmp_path / "study", spec, {"exp.py": script})
    import os

    os.environ["MY_API_KEY"] = "sk-secret"
    try:
        run_loop(root)
    finally:
        del os.environ["MY_API_KEY"]
    for row in experiments(root, "study"):
        seen = json.loads((Path(row.log_dir) / "stdout.log").read_text().splitlines()[0])
        assert seen["file"] == row.params and seen["arg"] == row.params["act"]
        assert seen["env"] == str(row.params["layers"]) and seen["secret"] is None


def test_script_proposer_repeating_itself_never_reruns(tmp_path: Path) -> None:
    proposer = "import json, sys\njson.load(sys.stdin)\nprint(json.dumps({'params': {'x': 1.0, 'y': -2.0}}))\n"
    root = write_study(tmp_path, bowl_spec(4, f"script:{PYTHON} same.py"), {"bowl.py": BOWL, "same.py": proposer})
    run_loop(root)
    rows = experiments(root)
    assert [r.decision for r in rows] == ["baseline", "kept", "rejected", "rejected"]
    assert rows[2].reason == "duplicate of experiment #2: these parameters were already tried"
    assert rows[2].log_dir and not (Path(rows[2].log_dir) / "stdout.log").exists()


def test_a_failed_baseline_is_retried_without_using_budget(tmp_path: Path) -> None:
    # A misspelled metric name fails the baseline; fixing the spec and running again retries it: not a
    # "duplicate" of the failed one, and the failed tries take nothing from the experiment budget.
    root = write_study(tmp_path, bowl_spec(3).replace('name = "loss"', 'name = "los"'), {"bowl.py": BOWL})
    for _ in range(2):  # unchanged spec: each run retries the baseline
        first = cli("run", str(root))
        assert first.returncode == 1 and "the baseline failed" in first.stdout, first.stdout
        assert "next run retries the baseline" in first.stdout and "Traceback" not in first.stderr
    (root / "autoresearch.toml").write_text((root / "autoresearch.toml").read_text().replace('"los"', '"loss"'))
    fixed = cli("run", str(root))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert 'the spec changed since the failed baseline (metric.name: "los" -> "loss"); retrying' in fixed.stdout
    rows = experiments(root)
    assert [r.decision for r in rows[:3]] == ["failed", "failed", "baseline"]
    assert rows[2].params == rows[0].params  # the same baseline, run again
    assert len(rows) == 2 + 3 and all(r.decision != "rejected" for r in rows)  # the budget of 3, all run


def test_a_changed_spec_stops_resume_until_accepted(bowl_study: Path) -> None:
    toml = bowl_study / "autoresearch.toml"
    assert cli("run", "--experiments", "3", str(bowl_study)).returncode == 0
    # A command-line override is not a change of the spec; reformatting and comments are not either.
    toml.write_text("# tuned by hand\n" + toml.read_text().replace('timeout = "30s"', "timeout  =  '30s'"))
    assert cli("run", "--experiments", "4", str(bowl_study)).returncode == 0

    toml.write_text(toml.read_text().replace("timeout  =  '30s'", 'timeout = "1h"'))
    status = cli("status", str(bowl_study))
    assert 'the spec changed since the last run (run.timeout: "30s" -> "1h")' in status.stderr
    refused = cli("run", str(bowl_study))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert 'run.timeout: "30s" -> "1h"' in refused.stderr and "--accept-spec-change" in refused.stderr
    assert len(experiments(bowl_study)) == 4  # nothing ran

    toml.write_text(toml.read_text().replace("x = { low = -5.0", "x = { low = -4.0"))
    measured = cli("run", str(bowl_study))
    assert measured.returncode == 2 and "params.x.low: -5.0 -> -4.0" in measured.stderr
    assert "start a new study" in measured.stderr and "--accept-spec-change" in measured.stderr

    accepted = cli("run", "--accept-spec-change", "--experiments", "5", str(bowl_study))
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted the spec change" in accepted.stdout
    assert len(experiments(bowl_study)) == 5
    assert cli("run", "--experiments", "6", str(bowl_study)).returncode == 0  # accepted once, for good


def test_a_spec_rewritten_by_an_experiment_is_not_used_silently(tmp_path: Path) -> None:
    # With no sandbox an experiment can write to the spec: the next resume names the change and stops.
    rewrite = BOWL + (
        "\nimport pathlib\nspec = pathlib.Path('autoresearch.toml')\n"
        "spec.write_text(spec.read_text().replace('experiments = 3', 'experiments = 1000')"
        ".replace('timeout = \"30s\"', 'timeout = \"1h\"'))\n"
    )
    root = write_study(tmp_path, bowl_spec(3, extra='[sandbox]\nkind = "none"'), {"bowl.py": rewrite})
    assert cli("run", str(root)).returncode == 0
    assert len(experiments(root)) == 3  # the running study kept the spec it started with
    resumed = cli("run", str(root))
    assert resumed.returncode == 2 and 'run.timeout: "30s" -> "1h"' in resumed.stderr
    assert len(experiments(root)) == 3


def test_a_raised_budget_continues_with_a_note(bowl_study: Path) -> None:
    # How long to search does not change how candidates are measured: no acceptance needed, but said.
    toml = bowl_study / "autoresearch.toml"
    assert cli("run", "--experiments", "3", str(bowl_study)).returncode == 0
    toml.write_text(toml.read_text().replace("experiments = 10", "experiments = 5"))
    assert cli("status", str(bowl_study)).stderr.count("spec changed") == 0
    resumed = cli("run", str(bowl_study))
    assert resumed.returncode == 0, resumed.stderr
    assert "the budget changed: budget.experiments: 10 -> 5" in resumed.stdout
    assert len(experiments(bowl_study)) == 5
