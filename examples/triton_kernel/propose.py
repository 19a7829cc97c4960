"""An offline proposer for the code-mode study: replays the kernel edits in edits/, one per call.

Each edit file holds a rationale line, then SEARCH/REPLACE blocks for kernel.py. An edit builds on the
current best, whatever was kept before it; one that no longer applies is rejected with the reason.
An LLM or a coding agent can take its place (README.md).
"""

import json
import sys
from pathlib import Path

study = json.load(sys.stdin)
finished = {e["strategy"] for e in study["history"]} | {p["strategy"] for p in study["pending"]}
edits = sorted(Path(__file__).parent.joinpath("edits").glob("*.txt"))
todo = [path for path in edits if path.stem.split("-", 1)[1] not in finished]
if not todo:
    print(json.dumps({"done": True}))
else:
    rationale, _, blocks = todo[0].read_text().partition("\n")
    strategy = todo[0].stem.split("-", 1)[1]
    print(json.dumps({"edits": blocks, "format": "search_replace", "rationale": rationale, "strategy": strategy}))
