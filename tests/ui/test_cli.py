from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, bowl_spec, cli, wait_for, write_study


def test_init_writes_a_spec_that_loads(tmp_path: Path) -> None:
    for template in ("params", "code"):
        folder = tmp_path / template
        result = cli("init", "--template", template, str(folder))
        assert result.returncode == 0, result.stderr
        spec = load_spec(folder)
        assert spec.mode == template and "Goal" in spec.goal
    again = cli("init", str(tmp_path / "params"))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_status_log_show_best_apply_export(bowl_study: Path) -> None:
    run = cli("run", str(bowl_study))
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 10 and lines[0].startswith("[1/10] #1 baseline 5 | best 5 (#1)")
    assert "stopped: experiment budget reached (10)" in run.stdout

    status = cli("status", str(bowl_study))
    assert "experiments 10 / 10" in status.stdout and "baseline 5" in status.stdout

    log = cli("log", str(bowl_study)).stdout.splitlines()
    assert len(log) == 10 and log[0].startswith("#1") and "baseline" in log[0]

    show = cli("show", "2", str(bowl_study))
    assert "experiment 2  parent 1" in show.stdout and "stdout.log (tail)" in show.stdout and "loss:" in show.stdout
    missing = cli("show", "99", str(bowl_study))
    assert missing.returncode == 1 and "no experiment 99" in missing.stderr

    best = cli("best", str(bowl_study))
    params = json.loads(best.stdout)  # only the data on stdout; the header goes to stderr
    assert best.stderr.startswith("# best: experiment")
    assert set(params) == {"x", "y"}

    applied = cli("apply", "--path", str(bowl_study))
    assert applied.returncode == 0 and json.loads((bowl_study / "best_params.json").read_text()) == params

    assert cli("export", str(bowl_study)).returncode == 0
    rows = list(csv.reader((bowl_study / "results.tsv").open(), delimiter="\t"))
    assert rows[0][:5] == ["commit", "loss", "memory_gb", "status", "description"]
    assert len(rows) == 11 and rows[1][3] == "keep" and {r[3] for r in rows[2:]} <= {"keep", "discard"}
    assert cli("export", "--format", "jsonl", str(bowl_study)).returncode == 0
    records = [json.loads(line) for line in (bowl_study / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == list(range(1, 11))


def test_queries_on_a_study_that_never_ran(bowl_study: Path) -> None:
    result = cli("status", str(bowl_study))
    assert result.returncode == 1 and "no study found" in result.stderr and "Traceback" not in result.stderr


def test_unknown_proposer_and_missing_command(tmp_path: Path, bowl_study: Path) -> None:
    spec = (bowl_study / "autoresearch.toml").read_text()
    (bowl_study / "autoresearch.toml").write_text(spec.replace('use = "tpe"', 'use = "llm"'))
    result = cli("run", str(bowl_study))
    assert result.returncode == 2 and "proposer" in result.stderr and "Traceback" not in result.stderr

    (bowl_study / "autoresearch.toml").write_text(
        spec.replace("bowl.py {params_file}", "").replace('command = "', 'command = "no-such-program-xyz ')
    )
    result = cli("run", str(bowl_study))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the baseline failed: exit code 127" in result.stdout and "not found" in result.stdout


def test_report_and_dashboard_arguments(bowl_study: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    report = cli("report", str(bowl_study))
    assert report.returncode == 0, report.stderr
    html = bowl_study / ".autoresearch" / "bowl" / "report" / "report.html"
    assert html.stat().st_size > 100_000 and (html.parent / "progress.png").exists()
    # It names every file it wrote, and wrote every file it names.
    written = sorted(html.parent.iterdir())
    assert sorted(report.stdout.splitlines()) == sorted(f"wrote {file}" for file in written), report.stdout
    assert {file.name for file in written} == {"report.html", "report.md", "progress.png", "lineage.png"}
    refused = cli("dashboard", "--host", "0.0.0.0", str(bowl_study))
    assert refused.returncode == 1 and "token" in refused.stderr


def test_a_missing_extra_is_one_line_naming_the_install(bowl_study: Path, tmp_path: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    # A real subprocess where plotly cannot be imported, as after an install without the extra.
    hidden = tmp_path / "no-plotly"
    (hidden / "plotly").mkdir(parents=True)
    (hidden / "plotly" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'plotly'\", name='plotly')\n"
    )
    path = os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])
    report = cli("report", str(bowl_study), env_extra={"PYTHONPATH": path})
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert report.stderr.strip() == (
        "error: this needs plotly, which is not installed; install it with: pip install 'autoresearch[dashboard]'"
    )


def test_each_template_runs_as_written_offline(tmp_path: Path) -> None:
    # A newcomer's first hour: init in a fresh git repository, commit what it wrote, run. No network
    # and no API key are needed (the environment is passed by allowlist in any case).
    git = ["git", "-c", "user.name=u", "-c", "user.email=u@x"]
    ends = {
        "params": "stopped: experiment budget reached (20)",
        "code": "stopped: the script proposer has nothing more to propose",
    }
    for template, end in ends.items():
        folder = tmp_path / template
        folder.mkdir()
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=folder, check=True)
        init = cli("init", "--template", template, cwd=folder)
        assert init.returncode == 0, init.stderr
        if template == "code":
            assert "commit them (git add" in init.stdout
            assert 'use = "script:{python} propose.py"' in (folder / "autoresearch.toml").read_text()
        subprocess.run([*git, "add", "-A"], cwd=folder, check=True)
        subprocess.run([*git, "commit", "-qm", "study"], cwd=folder, check=True)
        run = cli("run", cwd=folder, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        assert end in run.stdout, run.stdout
        log = cli("log", cwd=folder).stdout
        assert "rejected" not in log and "failed" not in log, log
        assert "kept" in log, log  # the starters leave room to improve, and the loop finds it
        store = Store(folder / ".autoresearch" / template, create=False)
        try:
            experiments = store.experiments()
        finally:
            store.close()
        # The params starter prints a val_loss curve: drawn, never flagged as an ambiguous value.
        assert not any("printed" in flag for e in experiments for flag in e.extra.get("flags", []))
        if template == "params":
            assert all(e.extra["series"]["val_loss"]["n"] == 6 for e in experiments)


def test_init_never_overwrites_a_file_of_yours(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('mine')\n")
    assert cli("init", str(tmp_path)).returncode == 0
    assert (tmp_path / "train.py").read_text() == "print('mine')\n"
    other = cli("init", "--template", "code", "--metric", "ops", str(tmp_path / "own"))
    assert other.returncode == 0 and not (tmp_path / "own" / "bench.py").exists()  # another metric: their bench


def test_init_writes_a_command_that_runs_without_an_activated_venv(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).returncode == 0
    assert 'command = "{python} train.py --config {params_file}"' in (tmp_path / "autoresearch.toml").read_text()


def test_apply_never_overwrites_a_hand_edited_params_file(bowl_study: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    assert cli("apply", str(bowl_study)).returncode == 0
    target = bowl_study / "best_params.json"
    assert cli("apply", "3", str(bowl_study)).returncode == 0  # what apply wrote may be replaced
    target.write_text('{"x": 0.5, "y": -2.0, "note": "mine"}\n')
    refused = cli("apply", str(bowl_study))
    assert refused.returncode == 1 and "was changed since autoresearch wrote it" in refused.stderr
    assert target.read_text() == '{"x": 0.5, "y": -2.0, "note": "mine"}\n'
    assert cli("apply", "--force", str(bowl_study)).returncode == 0
    assert "note" not in target.read_text()


def test_show_says_timed_out(tmp_path: Path) -> None:
    root = write_study(
        tmp_path,
        bowl_spec(2, "random").replace("bowl.py {params_file}", "hang.py {params_file}"),
        {"hang.py": "import json, sys, time\nif json.load(open(sys.argv[1]))['x'] != 0: time.sleep(60)\n" + BOWL},
    )
    toml = root / "autoresearch.toml"
    toml.write_text(toml.read_text().replace('timeout = "30s"', 'timeout = "3s"\nkill_grace = "1s"'))
    assert cli("run", str(root)).returncode == 0
    show = cli("show", "2", str(root))
    assert "timed out" in show.stdout and "exit code None" not in show.stdout


def test_the_command_line_starts_without_heavy_imports() -> None:
    # `autoresearch --help` must start fast: what it loads is checked, not how long it takes.
    probe = (
        "import sys\nfrom autoresearch.ui.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'optuna', 'numpy', 'rich', 'autoresearch.spec', 'autoresearch.engine.loop')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Usage: " in done.stdout
    assert done.stderr.strip() == "[]", done.stderr


def test_an_output_path_that_cannot_be_written_is_one_line(bowl_study: Path, tmp_path: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    for args in (("export", "-o", str(tmp_path / "no" / "such" / "folder.tsv")), ("init", str(bowl_study / "bowl.py"))):
        done = cli(*args, str(bowl_study)) if args[0] == "export" else cli(*args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")


def test_status_after_kill_9_says_interrupted_and_run_reruns_it(tmp_path: Path) -> None:
    # The second experiment waits while `hold` (in the project, which runs see) exists: `run` is
    # killed -9 while it runs.
    wait = "import json, os, sys, time\nwhile json.load(open(sys.argv[1]))['x'] != 0 and os.path.exists('hold'):\n"
    root = write_study(
        tmp_path / "s", bowl_spec(3).replace("bowl.py", "wait.py"), {"wait.py": wait + "    time.sleep(0.05)\n" + BOWL}
    )
    hold = root / "hold"
    hold.write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: "running 1" in cli("status", str(root)).stdout, "the second experiment to run")
    finally:
        proc.kill()  # SIGKILL: no handler runs, the row stays `running`
        proc.wait()
    status = cli("status", str(root)).stdout
    assert "running 1" not in status and "interrupted (the next run re-runs them) 1" in status
    assert "cost" not in status  # no LLM: nothing spent, nothing to show
    hold.unlink()
    assert cli("run", str(root)).returncode == 0
    status = cli("status", str(root)).stdout
    assert "interrupted" not in status and "running" not in status and "experiments 3 / 3" in status


def test_a_fixed_failed_baseline_uses_no_budget_in_the_counters(tmp_path: Path) -> None:
    fail = "import os, sys\nif os.path.exists('broken'):\n    sys.exit('the data is missing')\n"
    root = write_study(tmp_path / "s", bowl_spec(3).replace("bowl.py", "fail.py"), {"fail.py": fail + BOWL})
    broken = root / "broken"
    broken.write_text("")
    failed = cli("run", str(root))
    assert failed.returncode != 0 and "[0/3] #1 failed" in failed.stdout  # fix it and run again
    broken.unlink()
    run = cli("run", str(root))
    counters = [line.split("]")[0] + "]" for line in run.stdout.splitlines() if line.startswith("[")]
    assert counters == ["[1/3]", "[2/3]", "[3/3]"], run.stdout
    status = cli("status", str(root)).stdout
    assert "experiments 3 / 3" in status and "+1 failed baseline: retried, no budget used" in status


def test_control_sequences_a_candidate_wrote_reach_no_terminal(tmp_path: Path) -> None:
    # A script proposer's rationale and strategy, and the run's own stderr, carry escape sequences (clear
    # the screen, retitle the window, recolour): log, show, status and run's own lines show them as text.
    planted = "\x1b[2J\x1b]0;owned\x07\x1b[32mkept +99%"
    propose = (
        "import json\n"
        f"print(json.dumps({{'params': {{'x': 1.0, 'y': -2.0}}, 'rationale': {planted!r}, 'strategy': {planted!r}}}))\n"
    )
    bowl = BOWL + f"import sys\nsys.stderr.write({planted!r} + '\\n')\n"
    root = write_study(
        tmp_path / "s",
        bowl_spec(budget=2, proposer=f"script:{sys.executable} propose.py"),
        {"bowl.py": bowl, "propose.py": propose},
    )
    outputs = [cli("run", str(root), timeout=180)]
    outputs += [cli(command, str(root)) for command in ("log", "status")]
    outputs.append(cli("show", "2", str(root)))
    for done in outputs:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "\x1b" not in done.stdout + done.stderr, done.args
    assert "\\x1b[2J" in outputs[-1].stdout  # shown, as text
