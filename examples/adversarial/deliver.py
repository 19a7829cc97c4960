"""The experiment: deliver the candidate's attacks to the system under test.

It reads attacks.txt (the only editable file) and writes them to the run's output folder as
attacks.json. The assistant itself runs in the scorer (score.py): that is the only process shown the
secret (hidden/, `[scorer] data`), so neither the attacks' author nor anything it runs can read it.
"""

import json
import os
from pathlib import Path

from common import read_attacks

attacks = read_attacks(Path("attacks.txt"))
out = Path(os.environ["AUTORESEARCH_OUTPUT_DIR"])
(out / "attacks.json").write_text(json.dumps(attacks, indent=1))
print(f"attacks: {len(attacks)}")
