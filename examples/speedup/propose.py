"""An offline proposer for this example: replays the edits in edits/, one per call.

It reads the study (JSON) on stdin, as every `script:` proposer does (docs/script.md), and prints one
proposal as JSON. Alone it replays the edits in order. With several workers (`--workers 2`) it runs
an edit as soon as the edit it builds on has finished, skips edits already tried or running (by
strategy, from `history` and `pending`), and prints `{"wait": true}` when every edit left builds on
one still running.
"""

import json
import sys
from pathlib import Path

# Which edit each one builds on (its SEARCH text is that edit's result); None: the original code.
BUILDS_ON = {
    "early-exit": None,
    "broken-bound": "early-exit",
    "sqrt-bound": "early-exit",
    "cheat-protected": None,
    "sieve": "sqrt-bound",
    "pure-python-loop": "sieve",
}

study = json.load(sys.stdin)
finished = {e["strategy"] for e in study["history"]}
running = {p["strategy"] for p in study["pending"]}
edits = sorted(Path(__file__).parent.joinpath("edits").glob("*.txt"))
todo = [path for path in edits if path.stem.split("-", 1)[1] not in finished | running]
ready = [path for path in todo if BUILDS_ON[path.stem.split("-", 1)[1]] in finished | {None}]

if not todo:
    print(json.dumps({"done": True}))
elif not ready:
    print(json.dumps({"wait": True}))  # what is left builds on a running candidate: wait for its result
else:
    path = ready[0]
    rationale, _, blocks = path.read_text().partition("\n")
    print(
        json.dumps(
            {
                "edits": blocks,
                "format": "search_replace",
                "rationale": rationale,
                "strategy": path.stem.split("-", 1)[1],
            }
        )
    )
