"""init, run: a spec that loads, templates that run as written, one-line errors, honest counters."""

from __future__ import annotations

import subprocess
from pathlib import Path

from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, bowl_spec, cli, write_study


def test_init_writes_a_spec_that_loads(tmp_path: Path) -> None:
    for template in ("params", "code"):
        folder = tmp_path / template
        result = cli("init", "--template", template, str(folder))
        assert result.returncode == 0, result.stderr
        spec = load_spec(folder)
        assert spec.mode == template and "Goal" in spec.goal
    again = cli("init", str(tmp_path / "params"))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_never_overwrites_a_file_of_yours(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('mine')\n")
    assert cli("init", str(tmp_path)).returncode == 0
    assert (tmp_path / "train.py").read_text() == "print('mine')\n"
    other = cli("init", "--template", "code", "--metric", "ops", str(tmp_path / "own"))
    assert other.returncode == 0 and not (tmp_path / "own" / "bench.py").exists()  # another metric: their bench


def test_init_writes_a_command_that_runs_without_an_activated_venv(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path)).returncode == 0
    assert 'command = "{python} train.py --config {params_file}"' in (tmp_path / "autoresearch.toml").read_text()


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
