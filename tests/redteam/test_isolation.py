"""Measurement isolation, attack by attack, under each sandbox kind (see scenarios.py).

Under the kinds an attack's defence covers, the attack must be held; under the others it is expected
to get through, as docs/trust.md says: if one of those starts being held, the docs are out of date.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PYTHON
from tests.redteam.conftest import code_study, run, whole
from tests.redteam.scenarios import ATTACKS, Attack


@pytest.mark.parametrize("kind", ["none", "bwrap"])
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.play.__name__ for a in ATTACKS])
def test_attack(attack: Attack, kind: str, tmp_path: Path) -> None:
    got_through = attack.play(tmp_path / "study", kind)
    if kind in attack.holds:
        assert got_through is None, f"{attack.name} ({kind}): {got_through}"
    else:
        assert got_through is not None, f"{attack.name} is held under {kind}: update docs/trust.md and holds"


def test_a_scorer_in_code_mode_scores_the_candidates_outputs_with_the_users_scorer(tmp_path: Path) -> None:
    # The candidate edits train.py, which writes its prediction; it also rewrites score.py in its
    # worktree and prints a perfect loss. The scorer that runs is the user's, on the prediction.
    evaluate = (
        "import os, train\n"
        "open(os.path.join(os.environ['AUTORESEARCH_OUTPUT_DIR'], 'p.txt'), 'w').write(str(train.train()))\n"
    )
    score = "import os, sys\np = float(open(os.path.join(sys.argv[1], 'p.txt')).read())\nprint('loss:', abs(p - 3))\n"
    cheat = "open('score.py', 'w').write('print(\"loss: 0\")')\nprint('loss: 0')\ndef train():\n    return 2.5\n"
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": evaluate, "train.py": "def train():\n    return 1.0\n", "score.py": score},
        [whole(cheat, "rewrite the scorer and print a perfect loss")],
        extra=f'[scorer]\ncommand = "{PYTHON} score.py {{output_dir}}"',
    )
    experiments = run(root)
    assert [e.objective for e in experiments] == [2.0, 0.5]  # |1 - 3| then |2.5 - 3|, never 0
    assert (root / "score.py").read_text() == score
