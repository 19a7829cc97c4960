"""Round two of the attacks (tests/redteam/round2), each under each sandbox kind, as in test_isolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.redteam.round2 import all_attacks
from tests.redteam.scenarios import Attack

ROUND2 = all_attacks()


@pytest.mark.parametrize("kind", ["none", "bwrap"])
@pytest.mark.parametrize("attack", ROUND2, ids=[a.play.__name__ for a in ROUND2])
def test_attack(attack: Attack, kind: str, tmp_path: Path) -> None:
    got_through = attack.play(tmp_path / "study", kind)
    if kind in attack.holds:
        assert got_through is None, f"{attack.name} ({kind}): {got_through}"
    else:
        assert got_through is not None, f"{attack.name} is held under {kind}: update docs/trust.md and holds"
