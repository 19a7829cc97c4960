"""An offline defender for the defence study: tries the policy edits in edits/, one per call.

It reads the study (JSON) on stdin (docs/script.md) and prints the next edit not yet tried, as
SEARCH/REPLACE blocks against policy.py, or {"done": true}. Each edit is a known defence; the study's
scorer and its guard decide which one holds. An LLM or a coding agent can take its place (README.md).
"""

import json
import sys
from pathlib import Path

study = json.load(sys.stdin)
tried = {e["strategy"] for e in study["history"]} | {p["strategy"] for p in study["pending"]}
edits = [
    p for p in sorted(Path(__file__).parent.joinpath("edits").glob("*.txt")) if p.stem.split("-", 1)[1] not in tried
]
if not edits:
    print(json.dumps({"done": True}))
else:
    rationale, _, blocks = edits[0].read_text().partition("\n")
    strategy = edits[0].stem.split("-", 1)[1]
    print(json.dumps({"edits": blocks, "format": "search_replace", "rationale": rationale, "strategy": strategy}))
