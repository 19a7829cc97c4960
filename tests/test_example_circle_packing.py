"""examples/circle_packing: runs offline, improves on its baseline, and no invalid packing counts."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli
from tests.test_examples import EXAMPLES, rows, tracked_copy

# Candidates that try to look better than they are: each is appended to the honest packing.py.
CHEATS = {
    # Circles 0.0001% too large: they overlap by far less than any float tolerance would allow.
    "overlap": "_honest = construct\ndef construct():\n    xy, r = _honest()\n    return xy, r * 1.000001\n",
    "outside": "_honest = construct\ndef construct():\n    xy, r = _honest()\n    return xy + 0.001, r\n",
    # A claimed sum printed by the candidate: the scorer's own sum is the one recorded.
    "false-sum": "print('sum_radii: 4.01')\nprint('METRIC sum_radii=4.01')\n",
    # Rewrite circles.json after run.py wrote it, with 26 large overlapping circles.
    "rewrite": (
        "import atexit, json, os\n"
        "def _fake():\n"
        "    path = os.path.join(os.environ['AUTORESEARCH_OUTPUT_DIR'], 'circles.json')\n"
        "    json.dump([[0.5, 0.5, 0.5]] * 26, open(path, 'w'))\n"
        "atexit.register(_fake)\n"
    ),
}
CHEATING_PROPOSER = """\
import json, sys
cheats = json.load(open("cheats.json"))
study = json.load(sys.stdin)
done = {e["strategy"] for e in study["history"]}
todo = [name for name in cheats if name not in done]
if not todo:
    print(json.dumps({"done": True}))
else:
    text = study["files"]["packing.py"] + "\\n" + cheats[todo[0]]
    print(json.dumps({"edits": {"packing.py": text}, "format": "whole", "strategy": todo[0]}))
"""


def repository(tmp_path: Path, proposer: str | None = None) -> Path:
    root = tracked_copy("circle_packing", tmp_path / "circle_packing")
    if proposer:
        (root / "propose_test.py").write_text(proposer)
        (root / "cheats.json").write_text(json.dumps(CHEATS))
        spec = (root / "autoresearch.toml").read_text()
        (root / "autoresearch.toml").write_text(spec.replace("python3 mutate.py --seed 0", "python3 propose_test.py"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "example"], cwd=root, check=True
    )
    return root


def score(folder: Path, circles: object) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "circles.json").write_text(circles if isinstance(circles, str) else json.dumps(circles))
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "circle_packing" / "score.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def grid() -> list[list[float]]:
    """26 valid circles of radius 1/16 on a grid of 8 columns: neighbours exactly tangent (binary fractions)."""
    return [[1 / 16 + (k % 8) / 8, 1 / 16 + (k // 8) / 8, 1 / 16] for k in range(26)]


def test_the_mutation_operator_improves_on_the_baseline(tmp_path: Path) -> None:
    root = repository(tmp_path)
    result = cli("run", "--experiments", "12", str(root), timeout=600)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "circle-packing")
    assert len(experiments) == 12 and experiments[0].decision == "baseline"
    baseline = experiments[0].objective
    assert baseline is not None and 2.0 < baseline < 2.2, baseline
    assert all(e.decision in ("baseline", "kept", "reverted", "failed") for e in experiments)
    kept = [e.objective for e in experiments if e.decision == "kept" and e.objective is not None]
    assert kept and max(kept) > baseline, [(e.decision, e.objective) for e in experiments]
    # Each candidate changed constants of the parent's construction, and says which.
    assert all(" -> " in (e.rationale or "") for e in experiments[1:]), [e.rationale for e in experiments]
    best = cli("best", str(root))
    assert best.returncode == 0 and "+" in best.stdout and "packing.py" in best.stdout


def test_no_invalid_packing_counts_whatever_the_candidate_prints_or_writes(tmp_path: Path) -> None:
    root = repository(tmp_path, CHEATING_PROPOSER)
    result = cli("run", "--experiments", "10", str(root), timeout=600)
    assert result.returncode == 0, result.stderr
    experiments = {e.strategy or "baseline": e for e in rows(root / ".autoresearch" / "circle-packing")}
    baseline = experiments["baseline"]
    assert baseline.decision == "baseline" and baseline.objective is not None
    for name in ("overlap", "outside", "rewrite"):
        assert experiments[name].decision == "failed", (name, experiments[name].decision, experiments[name].reason)
        assert "scorer failed" in (experiments[name].reason or ""), experiments[name].reason
        assert "invalid packing" in (experiments[name].extra.get("feedback") or ""), experiments[name].extra
    # The printed 4.01 is ignored: the objective is the scorer's sum, the baseline's own.
    assert experiments["false-sum"].objective == baseline.objective
    assert experiments["false-sum"].decision == "reverted"
    assert baseline.objective is not None and baseline.objective < 2.2


def test_the_scorer_checks_exactly_and_computes_the_sum_itself(tmp_path: Path) -> None:
    valid = score(tmp_path / "valid", grid())
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "sum_radii: 1.625" in valid.stdout  # tangent circles are allowed

    def rejected(name: str, circles: object, why: str) -> None:
        done = score(tmp_path / name, circles)
        assert done.returncode == 1, (name, done.stdout)
        assert "sum_radii" not in done.stdout and why in done.stdout, (name, done.stdout)

    overlapping = grid()
    overlapping[1][0] = math.nextafter(overlapping[1][0], 0)  # one ulp closer to its neighbour
    rejected("overlap", overlapping, "circles 0 and 1 overlap")
    outside = grid()
    outside[0][0] = math.nextafter(1 / 16, 0)  # one ulp over the left wall
    rejected("outside", outside, "circle 0")
    rejected("count", grid()[:25], "expected a list of 26 circles")
    rejected("nan", json.dumps(grid()).replace("0.0625]", "NaN]", 1), "finite number")
    rejected("bool", [[*c[:2], True] if i == 0 else c for i, c in enumerate(grid())], "finite number")
    rejected("negative", [[0.5, 0.5, -1.0] if i == 0 else c for i, c in enumerate(grid())], "circle 0")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "circles.json").symlink_to(tmp_path / "valid" / "circles.json")
    linked = subprocess.run(
        [sys.executable, str(EXAMPLES / "circle_packing" / "score.py"), str(tmp_path / "link")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linked.returncode == 1 and "cannot read circles.json" in linked.stdout
