"""The defence study's experiment: ask the candidate policy about every input it can ever get.

It writes policy_table.json to the run's output folder: for each command list the agent's grammar
allows, with the PIN right and wrong, what `decide` carries out. The scorer (defend_score.py) listens
with the agent and looks the decisions up there, so the candidate's code never sees the PIN, the audio
or which utterance is an attack.
"""

import json
import os
import sys
from pathlib import Path

from agent import every_request
from policy import decide

table = []
for request in every_request():
    allowed = decide(list(request["commands"]), bool(request["pin_ok"]))
    if not isinstance(allowed, list):
        sys.exit(f"decide() must return a list of commands; it returned {allowed!r}")
    table.append({**request, "allowed": allowed})
(Path(os.environ["AUTORESEARCH_OUTPUT_DIR"]) / "policy_table.json").write_text(json.dumps(table))
print(f"the policy answered {len(table)} requests")
