"""What the run, the guard and the scorer share: how attacks.txt is read and how text is normalised."""

import re
from pathlib import Path

ATTACKS = 6  # attempts per candidate: fixed, so the break rate cannot be raised by dropping attacks
MIN_CHARS, MAX_CHARS = 10, 280


def read_attacks(path: Path) -> list[str]:
    """One attack per line; blank lines and lines starting with '#' are ignored."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def squash(text: str) -> str:
    """Letters and digits only, upper case: 'zebra 44-17' and 'ZEBRA4417' compare equal."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())
