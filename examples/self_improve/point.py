"""The inner studies' scorer: the value of the task's function at the point the inner experiment chose.

    python point.py OUTPUT_DIR

Run by an inner study (never by hand), in that study's folder: it reads secret/task.json (the task's
function and shift, the inner scorer's `data`, which the inner proposer cannot see under bubblewrap) and
OUTPUT_DIR/params.json (the point), and prints `value: <f>`.
"""

import json
import sys
from pathlib import Path

# autoresearch runs a params-mode scorer with PYTHONSAFEPATH (docs/trust.md: no run or proposer can plant a
# module where it imports from); this scorer's own helpers, beside it and protected, are put on the path here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from functions import value

task = json.loads(Path("secret/task.json").read_text())
params = json.loads((Path(sys.argv[1]) / "params.json").read_text())
x = [float(params[f"x{i}"]) for i in range(task["dim"])]
print(f"value: {value(task, x):.12g}")
