"""An offline proposer for this example: replays the edits in edits/, one per call, in order.

It reads the study (JSON) on stdin, as every `script:` proposer does, and prints one proposal as JSON.
"""

import json
import sys
from pathlib import Path

study = json.load(sys.stdin)
edits = sorted(Path(__file__).parent.joinpath("edits").glob("*.txt"))
step = len(study["history"]) - 1  # the baseline is the first experiment
if step >= len(edits):
    print(json.dumps({"done": True}))
else:
    path = edits[step]
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
