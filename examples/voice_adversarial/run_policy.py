"""Runs policy.py in a process of its own: JSON requests on stdin, one decision list per request out.

The scorer calls this rather than importing the policy, so policy code never runs in the scorer's
process (it cannot touch the scorer's counters) and its answers are checked there.
"""

import json
import sys
from pathlib import Path

# The scorer runs with PYTHONSAFEPATH (docs/trust.md), which this child inherits: the policy beside it is
# put on the path here, by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy import decide

requests = json.load(sys.stdin)
print(json.dumps([decide(list(r["commands"]), bool(r["pin_ok"])) for r in requests]))
