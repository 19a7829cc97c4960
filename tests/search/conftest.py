"""A code-mode study in a real git repository, searched by a script proposer that acts on the policy's task."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, write_study

# The system: prints its score, or crashes with a recognisable error while CRASH is set.
SOLUTION = "VALUE = 0\nCRASH = False\nATTEMPT = 0\n"
RUN = """
from solution import ATTEMPT, CRASH, VALUE
if CRASH:
    raise RuntimeError(f"boom: VALUE={VALUE} attempt={ATTEMPT}")
print("score:", VALUE)
"""

# Acts on the task it is given, from the parent's file only (payload["files"]), and logs what it saw:
# draft k sets VALUE = k (the second draft crashes); debug fixes a crash at its second attempt;
# improve adds one to the parent's VALUE, and crashes when that is a multiple of 3.
PROPOSE = """
import json, os, pathlib, re, sys
study = json.load(sys.stdin)
log = pathlib.Path(os.environ["AUTORESEARCH_PROPOSER_DIR"]) / "calls.jsonl"
text = study["files"]["solution.py"]
values = {k: eval(v) for k, v in re.findall(r"^(\\w+) = (.+)$", text, re.M)}
with log.open("a") as handle:
    handle.write(json.dumps({"task": study["task"], "parent": study["parent"]["id"] if study["parent"] else None,
                             "lineage": study["lineage"], "note": study["note"], "values": values}) + "\\n")
calls = len(log.read_text().splitlines())
if study["task"] == "draft":
    drafts = sum(1 for line in log.read_text().splitlines() if json.loads(line)["task"] == "draft")
    values = {"VALUE": drafts, "CRASH": drafts == 2, "ATTEMPT": 0}
elif study["task"] == "debug":
    values["ATTEMPT"] += 1
    values["CRASH"] = values["ATTEMPT"] < 2
else:
    values["VALUE"] += 1
    values["CRASH"] = values["VALUE"] % 3 == 0
    values["ATTEMPT"] = 0
body = "".join(f"{k} = {v!r}\\n" for k, v in values.items())
print(json.dumps({"edits": {"solution.py": body}, "rationale": f"{study['task']} call {calls}"}))
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def tree_study(
    root: Path,
    *,
    budget: int,
    drafts: int = 3,
    debug_probability: float = 1.0,
    max_debug_depth: int = 2,
    policy: str = "tree",
    workers: int = 1,
) -> Path:
    write_study(
        root,
        f"""
    [study]
    name = "t"
    direction = "maximize"
    [run]
    command = "{PYTHON} run.py"
    timeout = "30s"
    workers = {workers}
    [metric]
    name = "score"
    [code]
    editable = ["solution.py"]
    [proposer]
    use = "script:{PYTHON} propose.py"
    [search]
    policy = "{policy}"
    [search.tree]
    drafts = {drafts}
    debug_probability = {debug_probability}
    max_debug_depth = {max_debug_depth}
    [budget]
    experiments = {budget}
    """,
        {"solution.py": SOLUTION, "run.py": RUN, "propose.py": PROPOSE},
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return root


def calls(root: Path) -> list[dict[str, object]]:
    """What the proposer was shown, call by call."""
    path = root / ".autoresearch" / "t" / "proposer" / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
