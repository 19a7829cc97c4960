"""An agent reads the study's materials as files in its worktree, never committed; `history --json` round-trips."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study

MEASURE = """
from target import COST
for step in range(5):
    print("step_cost:", COST + 5 - step)
print(f"feedback: cost is {COST} MEASURE-FEEDBACK")
print("cost:", COST)
"""

AGENT = """
import json, pathlib, sys
prompt = sys.argv[1]
folder = pathlib.Path(".autoresearch/materials")
assert str(folder / "runs.md") in prompt, prompt
runs = (folder / "runs.md").read_text()
history = json.loads((folder / "history.json").read_text())
print("SEEN", "MEASURE-FEEDBACK" in runs, "step_cost: 5 values" in runs, history["count"],
      history["experiments"][0]["feedback"])
# Changes to the materials, and new files beside them, are never part of the proposal.
(folder / "runs.md").write_text("tampered")
(folder / "notes.json").write_text("{}")
p = pathlib.Path("target.py"); p.write_text(p.read_text().replace("COST = 10", "COST = 3"))
print("RATIONALE: cheaper")
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_agent_materials_are_files_in_its_worktree_and_never_committed(tmp_path: Path) -> None:
    root = write_study(
        tmp_path / "repo",
        f"""
        [study]
        name = "am"
        [run]
        command = "{PYTHON} measure.py"
        timeout = "20s"
        [metric]
        name = "cost"
        [code]
        editable = ["target.py", "**/*.md", "**/*.json"]  # broad globs: the materials still stay out
        protected = ["measure.py"]
        [proposer]
        use = "agent:{PYTHON} agent.py"
        pipeline = false  # the agent proposes after the baseline has run
        [budget]
        experiments = 2
        """,
        {"target.py": "COST = 10\n", "measure.py": MEASURE, "agent.py": AGENT},
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "initial")
    result = cli("run", str(root))
    assert result.returncode == 0, result.stderr
    baseline, changed = Store(root / ".autoresearch" / "am").experiments()
    assert changed.decision == "kept" and changed.objective == 3, changed.reason
    response = (Path(changed.log_dir or "") / "response.md").read_text()
    assert "SEEN True True 1 cost is 10 MEASURE-FEEDBACK" in response
    assert ".autoresearch/materials/history.json" in (Path(changed.log_dir or "") / "prompt.md").read_text()
    files = git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", str(changed.commit_sha)).split()
    assert files == ["target.py"]
    assert "materials" not in (changed.diff or "")

    shown = cli("history", "--json", str(root))
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["count"] == 2 and document["counts"] == {"baseline": 1, "kept": 1}
    assert document["best"]["id"] == changed.id
    for row, item in zip([baseline, changed], document["experiments"], strict=True):
        assert (item["id"], item["decision"], item["objective"]) == (row.id, row.decision, row.objective)
        assert item["feedback"] == row.extra["feedback"] and item["series"] == row.extra["series"]
    assert document["experiments"][1]["series"]["step_cost"]["values"] == [8, 7, 6, 5, 4]
    text = cli("history", str(root))
    assert "curve: step_cost: 5 values, start 15, min 11" in text.stdout
