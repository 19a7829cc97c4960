"""How many measurement-isolation attacks are held, per class and per sandbox kind.

Plays every scenario for real (a real study through the CLI whose candidate or proposer attacks) under
`sandbox.kind = "none"` and `"bwrap"`: round one (tests/redteam/scenarios.py, issue #10's classes:
symlinks where autoresearch writes, a rewritten store or spec, secrets, hidden data, holdout relays,
daemons, fake metrics ...) and round two (tests/redteam/round2, issue #20's classes: the channels around
the sandbox). Prints, per round, class and kind, how many were tried and how many held, the two rounds
side by side, then each scenario's outcome. A scenario whose `holds` leaves a kind out is one that
docs/trust.md lists as what that kind cannot prevent.

    python benchmarks/attacks.py [--kind none|bwrap] [--round 1|2]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the scenarios

from tests.redteam.round2 import all_attacks
from tests.redteam.scenarios import ATTACKS, Attack

from autoresearch.execute.sandbox import bwrap_usable

Outcome = tuple[Attack, str, str | None]  # the attack, the kind, what got through (None: held)


def play_all(rounds: dict[str, list[Attack]], kinds: list[str], temp: Path) -> dict[str, list[Outcome]]:
    outcomes: dict[str, list[Outcome]] = {}
    for name, attacks in rounds.items():
        outcomes[name] = []
        for kind in kinds:
            for index, attack in enumerate(attacks):
                got_through = attack.play(temp / f"{name}-{kind}-{index}", kind)
                outcomes[name].append((attack, kind, got_through))
    return outcomes


def by_class(outcomes: list[Outcome]) -> dict[tuple[int, str], tuple[int, int, int]]:
    """(class, kind) -> (tried, held, expected to hold: not in the kind's documented limits)."""
    cells: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for attack, kind, got in outcomes:
        cell = cells[(attack.kind_of_attack, kind)]
        cell[0] += 1
        cell[1] += got is None
        cell[2] += kind in attack.holds
    return {key: (a, b, c) for key, (a, b, c) in sorted(cells.items())}


def main() -> None:
    kinds = ["none", "bwrap"]
    if "--kind" in sys.argv:
        kinds = [sys.argv[sys.argv.index("--kind") + 1]]
    if "bwrap" in kinds and bwrap_usable() is not None:
        print(f"skipping bwrap: {bwrap_usable()}")
        kinds.remove("bwrap")
    rounds = {"round 1 (#10)": ATTACKS, "round 2 (#20)": all_attacks()}
    if "--round" in sys.argv:
        wanted = sys.argv[sys.argv.index("--round") + 1]
        rounds = {name: attacks for name, attacks in rounds.items() if name.startswith(f"round {wanted}")}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        outcomes = play_all(rounds, kinds, Path(temp))
    total = sum(len(attacks) for attacks in rounds.values())
    print(f"{total} attack scenarios per sandbox kind, played for real ({time.perf_counter() - start:.0f} s)")
    print("tried / held (held where the kind promises to hold; the rest are docs/trust.md's documented limits)")
    tables = {name: by_class(rows) for name, rows in outcomes.items()}
    print(f"{'':8} {'kind':6} " + " ".join(f"{name:>24}" for name in tables))
    keys = sorted({key for table in tables.values() for key in table})
    for cls, kind in keys:
        cells = []
        for table in tables.values():
            tried, held, promised = table.get((cls, kind), (0, 0, 0))
            cells.append(f"{f'{tried} / {held} ({promised})' if tried else '-':>24}")
        print(f"class {cls:<2} {kind:6} " + " ".join(cells))
    for name, rows in outcomes.items():
        print(f"\n{name}")
        print(f"{'class':6} {'attack':56} " + " ".join(f"{k:>8}" for k in kinds))
        attacks = rounds[name]
        for attack in attacks:
            got = {kind: g for a, kind, g in rows if a is attack}
            cells = " ".join(f"{'held' if got[k] is None else 'THROUGH':>8}" for k in kinds)
            print(f"{attack.kind_of_attack:<6} {attack.name:56} {cells}")
        for attack, kind, got_through in rows:
            if got_through is not None:
                documented = "" if kind in attack.holds else " (documented limit)"
                print(f"  {kind}: {attack.name}{documented}: {got_through}")


if __name__ == "__main__":
    main()
