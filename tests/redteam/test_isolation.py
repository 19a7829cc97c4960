"""Measurement isolation, attack by attack, under each sandbox kind (see scenarios.py).

Under the kinds an attack's defence covers, the attack must be held; under the others it is expected
to get through, as docs/trust.md says: if one of those starts being held, the docs are out of date.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.redteam.scenarios import ATTACKS, Attack


@pytest.mark.parametrize("kind", ["none", "bwrap"])
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.play.__name__ for a in ATTACKS])
def test_attack(attack: Attack, kind: str, tmp_path: Path) -> None:
    got_through = attack.play(tmp_path / "study", kind)
    if kind in attack.holds:
        assert got_through is None, f"{attack.name} ({kind}): {got_through}"
    else:
        assert got_through is not None, f"{attack.name} is held under {kind}: update docs/trust.md and holds"
