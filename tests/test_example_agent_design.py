"""examples/agent_design: an agent program (prompt + solve loop) around the offline SmolLM2, evolved in code mode,
scored by a scorer that alone reads the answers, with a disjoint holdout split."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.test_examples import rows, tracked_copy

pytestmark = pytest.mark.local_llm  # SmolLM2 through llama-cpp-python

# The test's proposer: three bad agents among the example's own proposals. One spends 3 model calls
# per question (the cost guard), one looks for the answer files (hidden from it), and, once a real
# improvement has been kept, one that memorised the search split's answers (the holdout catches it).
PROPOSE_TEST = """\
import json, subprocess, sys
raw = sys.stdin.read()
study = json.loads(raw)
done = {e["strategy"] for e in study["history"]}
kept = any(e["decision"] == "kept" for e in study["history"])
def whole(strategy, source):
    print(json.dumps({"edits": {"agent.py": source}, "format": "whole", "strategy": strategy}))
if "costly" not in done:
    whole("costly", open("bad_costly.py").read())
elif "peek" not in done:
    whole("peek", open("bad_peek.py").read())
elif kept and "memorise" not in done:
    whole("memorise", open("bad_memorise.py").read())
else:
    sys.stdout.write(subprocess.run([sys.executable, "propose.py"], input=raw, capture_output=True, text=True).stdout)
"""

COSTLY = """\
def solve(question, ask):
    for _ in range(3):  # three tries per question: over the cost guard's 2 calls (short ones, for speed)
        ask([{"role": "user", "content": "Hi"}], 1)
    return ""
"""

PEEK = """\
import json, sys
def solve(question, ask):
    for path in ("hidden/search_answers.json", "holdout/answers.json"):
        try:
            found = json.load(open(path))
            print("peek: found", path, file=sys.stderr)
            return str(next(iter(found.values())))
        except (OSError, ValueError, StopIteration):
            print("peek: cannot read", path, file=sys.stderr)
    return ""
"""


def memoriser(root: Path) -> str:
    """An agent that answers the search questions from a table (as if its author had solved them) and
    nothing else: perfect on the search split, useless on questions it has not seen."""
    questions = {t["id"]: t["question"] for t in json.loads((root / "tasks" / "search.json").read_text())}
    answers = json.loads((root / "hidden" / "search_answers.json").read_text())
    table = {questions[task]: str(value) for task, value in answers.items()}
    return f"TABLE = {table!r}\n\n\ndef solve(question, ask):\n    return TABLE.get(question, '')\n"


# Seven experiments of a real model on CPU: about 3.5 minutes of CPU time, and far more wall time under load.
@pytest.mark.timeout(1800)
def test_agent_design_improves_on_search_reports_holdout_and_rejects_bad_agents(tmp_path: Path) -> None:
    root = tracked_copy("agent_design", tmp_path / "agent_design")
    (root / "propose_test.py").write_text(PROPOSE_TEST)
    (root / "bad_costly.py").write_text(COSTLY)
    (root / "bad_peek.py").write_text(PEEK)
    (root / "bad_memorise.py").write_text(memoriser(root))
    spec = (root / "autoresearch.toml").read_text().replace("python3 propose.py", "python3 propose_test.py")
    (root / "autoresearch.toml").write_text(spec.replace("experiments = 12", "experiments = 7"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "ex"], cwd=root, check=True)

    result = cli("run", str(root), timeout=1500)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "agent-design")
    by_strategy = {e.strategy: e for e in experiments}
    baseline = experiments[0]
    assert baseline.decision == "baseline" and baseline.objective is not None
    # The guard: 3 model calls per question is over the budget of 2, whatever the accuracy.
    costly = by_strategy["costly"]
    assert costly.decision == "rejected" and "guard cost: calls_per_task = 3" in (costly.reason or "")
    # The answers are the scorer's and the holdout's alone: an agent looking for them finds nothing.
    peek = by_strategy["peek"]
    assert peek.objective == 0.0 and peek.decision == "reverted"
    stderr = (Path(peek.log_dir) / "stderr.log").read_text()
    assert "peek: cannot read hidden/search_answers.json" in stderr and "found" not in stderr
    # The example's own proposer improves on the baseline; search and holdout are both reported.
    kept = [e for e in experiments if e.decision == "kept"]
    assert kept and kept[0].objective is not None and kept[0].objective > baseline.objective
    for e in [baseline, *kept]:
        assert e.holdout is not None and "holdout_accuracy" in e.holdout, e.id
        assert not any(name.startswith("holdout") for name in e.metrics), e.metrics
    # Memorising the search split: perfect there, and the holdout (never shown to a proposer) vetoes it.
    memorise = by_strategy["memorise"]
    assert memorise.objective == 1.0 and memorise.decision == "rejected", memorise.reason
    assert "holdout" in (memorise.reason or "")
    history = json.loads(cli("history", "--json", str(root)).stdout)
    assert "holdout_accuracy" not in json.dumps(history)
