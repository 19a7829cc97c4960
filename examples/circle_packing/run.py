"""The experiment (protected): build the packing with packing.py and write it for the scorer.

Whatever this process prints is ignored: the scorer reads circles.json and computes the sum itself.
"""

import json
import os
from pathlib import Path

import numpy as np
from packing import N, construct

centres, radii = construct()
centres = np.asarray(centres, dtype=float).reshape(N, 2)
radii = np.asarray(radii, dtype=float).reshape(N)
circles = [[x, y, r] for (x, y), r in zip(centres.tolist(), radii.tolist(), strict=True)]
out = Path(os.environ.get("AUTORESEARCH_OUTPUT_DIR", "."))
(out / "circles.json").write_text(json.dumps(circles))
print(f"claimed_sum: {sum(radii.tolist())}")  # for the log only
