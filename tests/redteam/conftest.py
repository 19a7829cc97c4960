"""Helpers for the red-team suite: each test plays a proposer trying one hack and asserts it is not kept."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study

# A script proposer that replays the proposals in proposals.json, one per call, then stops.
REPLAY = """
import json, os, sys
study = json.load(sys.stdin)
# What the proposer was shown, for the tests to inspect, in the one folder a proposer may write.
with open(os.path.join(os.environ["AUTORESEARCH_PROPOSER_DIR"], "payloads.jsonl"), "a") as log:
    log.write(json.dumps(study) + "\\n")
proposals = json.load(open("proposals.json"))
step = len(study["history"]) + len(study["pending"]) - 1
print(json.dumps(proposals[step] if step < len(proposals) else {"done": True}))
"""


def params_study(root: Path, command: str, proposals: list[dict], extra: str = "", files: dict | None = None) -> Path:
    """A params-mode study over `cheat` (0 = honest baseline) driven by a replaying script proposer."""
    write_study(
        root,
        f"""
        [study]
        name = "rt"
        [run]
        command = "{command}"
        timeout = "20s"
        [metric]
        name = "loss"
        [params]
        cheat = {{ low = 0, high = 100, default = 0 }}
        [proposer]
        use = "script:{PYTHON} replay.py"
        [budget]
        experiments = {len(proposals) + 1}
        {extra}
        """,
        {"replay.py": REPLAY, **(files or {})},
    )
    (root / "proposals.json").write_text(json.dumps(proposals))
    return root


def code_study(
    root: Path,
    files: dict[str, str],
    proposals: list[dict],
    extra: str = "",
    run: str = "",
    metric: str = 'name = "loss"',
    editable: str = '["train.py"]',
    links: dict[str, str] | None = None,
) -> Path:
    """A code-mode study (train.py editable; evaluate.py and data/ protected) in a fresh git repository.

    LINKS: symbolic links {path: target} committed with the files.
    """
    write_study(
        root,
        f"""
        [study]
        name = "rt"
        [run]
        command = "{PYTHON} evaluate.py"
        timeout = "20s"
        {run}
        [metric]
        {metric}
        [code]
        editable = {editable}
        protected = ["evaluate.py", "data/*"]
        [proposer]
        use = "script:{PYTHON} replay.py"
        [budget]
        experiments = {len(proposals) + 1}
        {extra}
        """,
        {"replay.py": REPLAY, **files},
    )
    (root / "proposals.json").write_text(json.dumps(proposals))
    for name, target in (links or {}).items():
        (root / name).symlink_to(target)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def run(root: Path) -> list[Experiment]:
    """Run the study with the real CLI and return its experiments."""
    result = cli("run", str(root), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def payloads(root: Path) -> str:
    """Every payload the replaying proposer was shown (one JSON per line)."""
    return "".join(path.read_text() for path in root.glob(".autoresearch/*/proposer/payloads.jsonl"))


def whole(content: str, rationale: str) -> dict:
    return {"edits": {"train.py": content}, "rationale": rationale}
