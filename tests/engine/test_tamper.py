"""Tamper records: a run that moves the study branch is caught, the branch put back, and `best` /
`apply` refuse until the user accepts it knowingly (real git, real CLI, sandbox kind none)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from autoresearch.engine.tamper import TAMPER_META, record, recorded
from autoresearch.store.database import Store
from tests.conftest import cli
from tests.redteam.conftest import code_study

MOVE_BRANCH = """import subprocess
subprocess.run(["git", "update-ref", "refs/heads/autoresearch/rt", "HEAD"], capture_output=True)
LOSS = 1.5
"""


def test_a_record_is_kept_once_and_a_mangled_one_counts(tmp_path: Path) -> None:
    store = Store(tmp_path / "study")
    try:
        assert recorded(store) == []
        record(store, "the branch moved")
        record(store, "the branch moved")  # the same finding on a second resume
        record(store, "an object was rewritten")
        assert [entry["what"] for entry in recorded(store)] == ["the branch moved", "an object was rewritten"]
        store.set_meta(TAMPER_META, "not json")
        assert "the tamper record was rewritten" in str(recorded(store)[0]["what"])
    finally:
        store.close()


def test_a_moved_branch_is_put_back_recorded_and_refused(tmp_path: Path) -> None:
    proposals = [
        {"edits": {"train.py": "LOSS = 0.9\n"}, "rationale": "better"},
        {"edits": {"train.py": MOVE_BRANCH}, "rationale": "moves the branch"},
        {"edits": {"train.py": "LOSS = 0.8\n"}, "rationale": "never runs: the study stopped"},
    ]
    files = {"train.py": "LOSS = 1.0\n", "evaluate.py": "import train\nprint('loss:', train.LOSS)\n"}
    root = code_study(tmp_path / "study", files, proposals, extra='[sandbox]\nkind = "none"\n')
    ran = cli("run", str(root), timeout=180)
    assert "the study branch autoresearch/rt was moved to" in ran.stdout + ran.stderr
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        experiments = store.experiments()
        assert [e.decision for e in experiments[:2]] == ["baseline", "kept"]
        assert len(experiments) == 3  # the third proposal never started: the study stopped
        assert "it was put back at the best, #2" in str(recorded(store)[0]["what"])
    finally:
        store.close()
    branch = subprocess.run(["git", "rev-parse", "autoresearch/rt"], cwd=root, capture_output=True, text=True)
    assert branch.stdout.strip() == experiments[1].commit_sha
    status = cli("status", str(root))
    assert "tampered: the study branch autoresearch/rt was moved" in status.stdout + status.stderr
    best = cli("best", str(root))
    assert best.returncode == 1 and best.stdout == ""
    assert "not showing the best: the study's record was tampered with" in best.stderr
    assert "--accept-tamper" in best.stderr
    applied = cli("apply", str(root))
    assert applied.returncode == 1 and "not applying: the study's record was tampered with" in applied.stderr
    assert (root / "train.py").read_text() == "LOSS = 1.0\n"
    accepted = cli("best", str(root), "--accept-tamper")
    assert accepted.returncode == 0 and "+LOSS = 0.9" in accepted.stdout
    assert "used anyway, as asked" in accepted.stderr


def test_a_branch_left_on_an_earlier_kept_commit_by_a_kill_catches_up_without_a_tamper(tmp_path: Path) -> None:
    # kill -9 between recording a new best and moving the study branch to it leaves the branch on the
    # previous best: a commit the study kept, not one a run planted. Resume moves it on and records nothing.
    proposals = [
        {"edits": {"train.py": "LOSS = 0.9\n"}, "rationale": "better"},
        {"edits": {"train.py": "LOSS = 0.8\n"}, "rationale": "better still"},
    ]
    files = {"train.py": "LOSS = 1.0\n", "evaluate.py": "import train\nprint('loss:', train.LOSS)\n"}
    root = code_study(tmp_path / "study", files, proposals, extra='[sandbox]\nkind = "none"\n')
    spec = root / "autoresearch.toml"
    spec.write_text(spec.read_text().replace("experiments = 3", "experiments = 2"))
    assert cli("run", str(root), timeout=180).returncode == 0
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        baseline, kept = store.experiments()
    finally:
        store.close()
    assert kept.decision == "kept" and baseline.commit_sha and kept.commit_sha
    subprocess.run(["git", "update-ref", "refs/heads/autoresearch/rt", baseline.commit_sha], cwd=root, check=True)
    resumed = cli("run", str(root), "--experiments", "3", timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "moved" not in resumed.stdout + resumed.stderr
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        assert recorded(store) == []
        assert [e.decision for e in store.experiments()] == ["baseline", "kept", "kept"]
        best_sha = store.experiments()[-1].commit_sha
    finally:
        store.close()
    branch = subprocess.run(["git", "rev-parse", "autoresearch/rt"], cwd=root, capture_output=True, text=True)
    assert branch.stdout.strip() == best_sha
