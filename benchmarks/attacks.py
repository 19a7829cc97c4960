"""How many measurement-isolation attacks are held, per sandbox kind.

Plays every scenario of tests/redteam/scenarios.py (a real study through the CLI whose candidate or
proposer attacks: symlinks where autoresearch writes, a rewritten store or spec, secrets, hidden data,
holdout relays, daemons, fake metrics ...) under `sandbox.kind = "none"` and `"bwrap"`, and prints, per
kind, how many were tried and how many held, then each scenario's outcome.

    python benchmarks/attacks.py [--kind none|bwrap]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the scenarios

from tests.redteam.scenarios import ATTACKS

from autoresearch.run.sandbox import bwrap_usable


def main() -> None:
    kinds = ["none", "bwrap"]
    if "--kind" in sys.argv:
        kinds = [sys.argv[sys.argv.index("--kind") + 1]]
    if "bwrap" in kinds and bwrap_usable() is not None:
        print(f"skipping bwrap: {bwrap_usable()}")
        kinds.remove("bwrap")
    results: dict[str, list[tuple[str, int, str | None]]] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        for kind in kinds:
            results[kind] = []
            for index, attack in enumerate(ATTACKS):
                got_through = attack.play(Path(temp) / f"{kind}-{index}", kind)
                results[kind].append((attack.name, attack.kind_of_attack, got_through))
    print(f"{len(ATTACKS)} attack scenarios per sandbox kind, played for real ({time.perf_counter() - start:.0f} s)")
    print(f"{'sandbox.kind':14} {'tried':>6} {'held':>6}")
    for kind, rows in results.items():
        print(f"{kind:14} {len(rows):6} {sum(1 for *_, got in rows if got is None):6}")
    print()
    print(f"{'class':6} {'attack':46} " + " ".join(f"{k:>8}" for k in results))
    for index, attack in enumerate(ATTACKS):
        cells = " ".join(f"{'held' if results[k][index][2] is None else 'THROUGH':>8}" for k in results)
        print(f"{attack.kind_of_attack:<6} {attack.name:46} {cells}")
    for kind, rows in results.items():
        for name, _, got in rows:
            if got is not None:
                print(f"  {kind}: {name}: {got}")


if __name__ == "__main__":
    main()
