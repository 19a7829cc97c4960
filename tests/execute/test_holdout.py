"""`[holdout] scorer`: the holdout metric comes from a process the candidate never runs in."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PYTHON
from tests.redteam.conftest import params_study, run

# The holdout run (candidate code): predicts, says whether it could read the labels, prints a fake value.
HOLDOUT = """
import os, sys
cheat = int(sys.argv[1])
saw = os.path.exists("labels/truth.txt") and open("labels/truth.txt").read().strip() != ""
out = os.environ["AUTORESEARCH_OUTPUT_DIR"]
if cheat != 2:  # candidate 2 writes no predictions at all
    open(os.path.join(out, "pred.txt"), "w").write(str(1.0 + cheat))
print("test_loss:", 0.0)
print("saw_labels:", int(saw))
"""
SCORER = """
import os, sys
pred = float(open(os.path.join(sys.argv[1], "pred.txt")).read())
print("test_loss:", abs(pred - float(open("labels/truth.txt").read())))
"""


def test_the_scorer_computes_the_holdout_metric_from_predictions_and_alone_sees_its_labels(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2)],
        extra=(
            f'[holdout]\ncommand = "{PYTHON} holdout.py {{cheat}}"\nmetric = "test_loss"\nmax_worsening = 10\n'
            f'scorer = "{PYTHON} score.py {{output_dir}}"\nscorer_data = ["labels"]\n'
            '[sandbox]\nkind = "bwrap"\n'
        ),
        files={
            "exp.py": "import sys\nprint('loss:', 5 - int(sys.argv[1]))\n",
            "holdout.py": HOLDOUT,
            "score.py": SCORER,
            "labels/truth.txt": "1.25",
        },
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "rejected"]
    # The scorer's values, not the 0.0 the candidate printed; what the holdout run printed is not recorded.
    assert experiments[0].holdout == {"test_loss": 0.25}
    assert experiments[1].holdout == {"test_loss": 0.75}
    assert "saw_labels" not in (experiments[1].holdout or {})
    assert "saw_labels: 0" in (root / ".autoresearch/rt/experiments/00002/holdout/stdout.log").read_text()
    # No predictions: the scorer fails, the candidate is rejected, and the reason quotes no holdout output.
    assert experiments[2].reason == (
        "vetoed by the holdout: its evaluation failed (its logs are in the experiment's holdout/ folder)"
    )
    assert "the holdout scorer failed" in (experiments[2].holdout or {}).get("error", "")
