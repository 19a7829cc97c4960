"""status and show on a study that never ran, a run killed -9, a timed-out experiment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autoresearch.core.pareto import front
from tests.conftest import BOWL, TRADE, bowl_spec, cli, study_rows, trade_spec, wait_for, write_study


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


def test_a_two_objective_study_through_the_cli_lists_its_front_and_applies_a_member(tmp_path: Path) -> None:
    root = write_study(
        tmp_path, trade_spec(16, "nsga2", "[proposer.options]\npopulation_size = 5"), {"trade.py": TRADE}
    )
    run = cli("run", str(root))
    assert run.returncode == 0, run.stderr
    assert "front " in run.stdout and "hypervolume" in run.stdout  # the run's last line: the front, not one best
    rows = study_rows(root / ".autoresearch" / "trade")
    names, directions = ["time_ms", "accuracy"], ["minimize", "maximize"]
    decided = sorted((r for r in rows if r.decision in ("baseline", "kept")), key=lambda r: (r.finished_at, r.id))
    expected = [r.id for r in front(decided, directions, key=lambda r: r.point(names))]
    assert len(expected) >= 2
    best = cli("best", str(root))
    assert best.returncode == 0, best.stderr
    listed = json.loads(best.stdout)
    assert [m["id"] for m in listed] == expected
    by_id = {r.id: r for r in rows}
    for member in listed:
        assert member["objectives"] == by_id[member["id"]].objectives and member["params"] == by_id[member["id"]].params
    assert f"Pareto front: {len(expected)} member(s) (minimize time_ms, maximize accuracy); hypervolume" in best.stderr
    status = cli("status", str(root)).stdout
    assert f"front {len(expected)} members, hypervolume" in status and "hypervolume reference: time_ms" in status
    assert all(f"  #{i} " in status for i in expected)
    # `apply` without an ID cannot choose between members; an ID off the front is refused unless forced.
    unchosen = cli("apply", str(root))
    assert unchosen.returncode == 1 and "pick one with `autoresearch apply ID`" in unchosen.stderr
    off = next(r.id for r in rows if r.decision == "reverted")
    refused = cli("apply", str(off), str(root))
    assert refused.returncode == 1 and f"experiment {off} is not on the Pareto front" in refused.stderr
    assert not (root / "best_params.json").exists()
    applied = cli("apply", str(expected[-1]), str(root))
    assert applied.returncode == 0, applied.stderr
    assert json.loads((root / "best_params.json").read_text()) == by_id[expected[-1]].params
    forced = cli("apply", str(off), str(root), "--force")
    assert forced.returncode == 0 and "not on the Pareto front; applying it anyway" in forced.stderr
    assert json.loads((root / "best_params.json").read_text()) == by_id[off].params
