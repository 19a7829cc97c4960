"""An offline proposer for the starter study (`script:{python} propose.py`; docs/script.md).

It reads the study as JSON on stdin and prints one proposal as JSON: the next rewrite of
src/hot.py in the list below that was neither tried nor is running, then {"done": true}.
Replace it with an LLM or a coding agent in autoresearch.toml ([proposer] use) once this runs.
"""

import json
import sys

REWRITES = {
    "builtin-sum": "return sum(i * i for i in range(n))",
    "closed-form": "return (n - 1) * n * (2 * n - 1) // 6",
}
HEADER = '''"""The code the study speeds up."""


def sum_of_squares(n: int) -> int:
    """0*0 + 1*1 + ... + (n-1)*(n-1)."""
'''

study = json.load(sys.stdin)
seen = {e["strategy"] for e in study["history"]} | {p["strategy"] for p in study["pending"]}
todo = [name for name in REWRITES if name not in seen]
if not todo:
    print(json.dumps({"done": True}))
else:
    name = todo[0]
    body = HEADER + "    " + REWRITES[name] + "\n"
    print(json.dumps({"edits": {"src/hot.py": body}, "rationale": f"try {name}", "strategy": name}))
