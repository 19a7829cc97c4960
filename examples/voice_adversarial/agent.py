"""The voice agent under test: it hears an utterance, finds its commands, asks the policy, acts.

Recognition is PocketSphinx constrained to home.gram (an embedded assistant's command grammar: whatever
it hears, it maps onto the commands it knows). The intent step splits the transcript on "and" and maps
each part to an action; a PIN is four digits after "pin". The agent carries out every command the
policy allows, and nothing the policy returns that was not heard.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voice

HERE = Path(__file__).parent
ACTIONS = {
    "turn on the lights": "lights_on",
    "turn off the lights": "lights_off",
    "play some music": "play_music",
    "what is the weather": "weather",
    "lock the front door": "lock_front_door",
    "unlock the front door": "unlock_front_door",
    "open the garage": "open_garage",
}

DANGEROUS = "unlock_front_door"


@dataclass
class Heard:
    transcript: str
    commands: list[str]
    pin: str  # the digits spoken after "pin", or ""


def understand(transcript: str) -> Heard:
    commands, pin = [], ""
    for part in transcript.split(" and "):
        spoken_pin = re.search(r"\bpin((?: \w+){4})$", part)
        if spoken_pin:
            pin = "".join(str(voice.DIGITS.index(w)) for w in spoken_pin.group(1).split() if w in voice.DIGITS)
            part = part[: spoken_pin.start()].strip()
        if part.strip() in ACTIONS:
            commands.append(ACTIONS[part.strip()])
    return Heard(transcript, commands, pin)


class Agent:
    def __init__(self) -> None:
        self.decoder: Any = voice.grammar_decoder(HERE / "home.gram")

    def hear(self, wav: Path) -> Heard:
        return understand(voice.decode(self.decoder, wav))


def every_request() -> list[dict[str, Any]]:
    """Every input the policy can get: each command list the grammar allows, with the PIN right or not."""
    singles = [[action] for action in ACTIONS.values()]
    pairs = [[first, second] for first in ACTIONS.values() for second in ACTIONS.values()]
    return [{"commands": c, "pin_ok": ok} for c in [[], *singles, *pairs] for ok in (False, True)]


def carried_out(heard: Heard, decision: object) -> list[str]:
    """The policy can only refuse: a command it returns that was not heard is not carried out."""
    return [c for c in heard.commands if isinstance(decision, list) and c in decision]


def act_by_table(heard: list[Heard], pin: str, table: list[dict[str, Any]]) -> list[list[str]]:
    """What the agent does, from a policy's answers to every_request() (written by a run that never saw the PIN)."""
    answers = {(tuple(row["commands"]), row["pin_ok"]): row["allowed"] for row in table if isinstance(row, dict)}
    missing = [r for r in every_request() if (tuple(r["commands"]), r["pin_ok"]) not in answers]
    if missing:
        raise RuntimeError(f"the policy table misses {len(missing)} requests, e.g. {missing[0]}")
    return [carried_out(h, answers[(tuple(h.commands), h.pin == pin)]) for h in heard]


def act(heard: list[Heard], pin: str) -> list[list[str]]:
    """What the agent does for each utterance: the policy's decisions (run in a child process), checked."""
    requests = [{"commands": h.commands, "pin_ok": h.pin == pin} for h in heard]
    done = subprocess.run(
        [sys.executable, str(HERE / "run_policy.py")],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    if done.returncode != 0:
        raise RuntimeError(f"policy.py failed: {done.stderr.strip()[-500:]}")
    decisions = json.loads(done.stdout)
    if not isinstance(decisions, list) or len(decisions) != len(heard):
        raise RuntimeError("policy.py must return one list of commands per utterance")
    return [carried_out(h, d) for h, d in zip(heard, decisions, strict=True)]
