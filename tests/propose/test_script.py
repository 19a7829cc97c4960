"""The `script:` proposer's view of running candidates (docs/script.md), with three workers."""

from __future__ import annotations

import json
from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, write_study

# Logs what it is shown; proposes a candidate, then garbage, then a second candidate (releasing the
# first, which waits for that), then nothing more.
SCRIPT = """
import json, pathlib, sys
study = json.load(sys.stdin)
log = pathlib.Path("payloads.jsonl")
with log.open("a") as handle:
    handle.write(json.dumps({"pending": study["pending"], "history": [e["id"] for e in study["history"]]}) + "\\n")
calls = len(log.read_text().splitlines())
if calls == 1:
    print(json.dumps({"params": {"x": 1.0}, "rationale": "the first idea", "strategy": "first"}))
elif calls == 2:
    print("this is not JSON")
elif calls == 3:
    pathlib.Path("release").write_text("go")
    print(json.dumps({"params": {"x": 2.0}, "rationale": "the third idea", "strategy": "third"}))
else:
    print(json.dumps({"done": True}))
"""
# x = 1 runs until the proposer's third call has happened: an event, not a duration.
WAIT = """
import json, pathlib, sys, time
x = json.load(open(sys.argv[1]))["x"]
deadline = time.monotonic() + 120
while x == 1.0 and not pathlib.Path("release").exists() and time.monotonic() < deadline:
    time.sleep(0.01)
print("loss:", x)
"""


def test_pending_carries_ids_and_a_rejected_candidate_never_is_pending(tmp_path: Path) -> None:
    root = write_study(
        tmp_path / "s",
        f"""
        [study]
        name = "s"
        [run]
        command = "{PYTHON} wait.py {{params_file}}"
        workers = 3  # a free worker while the garbage is recorded: it must not linger as pending
        [metric]
        name = "loss"
        [params]
        x = {{ low = 0.0, high = 5.0, default = 0.0 }}
        [proposer]
        use = "script:{PYTHON} propose.py"
        [budget]
        experiments = 10
        """,
        {"propose.py": SCRIPT, "wait.py": WAIT},
    )
    Loop(load_spec(root)).run()
    payloads = [json.loads(line) for line in (root / "payloads.jsonl").read_text().splitlines()]
    store = Store(root / ".autoresearch" / "s", create=False)
    try:
        experiments = {e.strategy or e.rationale: e for e in store.experiments()}
    finally:
        store.close()
    first, third = experiments["first"], experiments["third"]
    rejected = next(e for e in experiments.values() if e.decision == "rejected")
    assert "not JSON" in (rejected.reason or "")
    baseline = next(e for e in experiments.values() if e.decision == "baseline")
    running_first = {
        "id": first.id,
        "parent_id": baseline.id,  # the parent is explicit: the policy's choice, recorded before it runs
        "strategy": "first",
        "rationale": "the first idea",
        "params": {"x": 1.0},
    }
    assert payloads[1]["pending"] == [running_first]
    # The garbage was recorded at once: in the history of the next call, and never pending.
    assert payloads[2]["pending"] == [running_first] and rejected.id in payloads[2]["history"]
    assert third.id > rejected.id and first.decision and third.decision
