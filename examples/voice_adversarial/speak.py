"""The attack study's experiment: speak the candidate attack, transformed as its parameters say.

It writes RENDITIONS WAV files to the run's output folder (the same attack at three speaking rates,
as a person or a loudspeaker would not say it twice the same way) and intended.txt, the words spoken.
The agent listens in the scorer (score.py), the only process that knows the PIN.
"""

import json
import os
import sys
from pathlib import Path

import voice

params = json.loads(Path(sys.argv[1]).read_text())
out = Path(os.environ["AUTORESEARCH_OUTPUT_DIR"])
text = voice.intended_text(params["carrier"])
for n, step in enumerate(voice.RATE_STEPS, 1):
    voice.speak(text, out / f"attack-{n}.wav", {**params, "wpm": int(params["wpm"]) + step})
(out / "intended.txt").write_text(text + "\n")
print(f"spoke {len(voice.RATE_STEPS)} renditions of {text!r}")
