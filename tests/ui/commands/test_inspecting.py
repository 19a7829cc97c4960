"""status and show on a study that never ran, a run killed -9, a timed-out experiment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import BOWL, bowl_spec, cli, wait_for, write_study


def test_queries_on_a_study_that_never_ran(bowl_study: Path) -> None:
    result = cli("status", str(bowl_study))
    assert result.returncode == 1 and "no study found" in result.stderr and "Traceback" not in result.stderr


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
