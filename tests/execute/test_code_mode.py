"""Code mode end to end: real git repositories, the real CLI, a script proposer replaying known edits."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study

# Replays edits listed in edits.json: one per call, in order; then says it is done.
REPLAY = """
import json, sys
study = json.load(sys.stdin)
edits = json.load(open("edits.json"))
step = len(study["history"]) + len(study["pending"]) - 1
print(json.dumps(edits[step] if step < len(edits) else {"done": True}))
"""


def target(cost: int = 10, extra: str = "") -> str:
    """target.py: only the lines between the region markers may change."""
    return (
        "def work(n):\n    return sum(range(n))\n\n\n"
        f"# autoresearch: begin\n{extra}COST = {cost}\n# autoresearch: end\n"
    )


TARGET = target()
MEASURE = "from target import COST, work\nwork(1000)\nprint('cost:', COST)\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def edit(search: str, replace: str, rationale: str, path: str = "target.py") -> dict:
    return {"edits": f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n", "rationale": rationale}


def make_repo(tmp_path: Path, edits: list[dict], extra_spec: str = "", budget: int = 20) -> Path:
    root = write_study(
        tmp_path / "repo",
        f"""
    [study]
    name = "cm"
    [run]
    command = "{PYTHON} measure.py"
    timeout = "20s"
    [metric]
    name = "cost"
    [code]
    editable = ["target.py"]
    protected = ["measure.py", "data/*.txt"]
    [proposer]
    use = "script:{PYTHON} replay.py"
    [budget]
    experiments = {budget}
    {extra_spec}
    """,
        {
            "target.py": TARGET,
            "measure.py": MEASURE,
            "replay.py": REPLAY,
            "data/split.txt": "1 2 3\n",
            "notes.md": "user notes\n",
        },
    )
    (root / "edits.json").write_text(json.dumps(edits))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "initial")
    return root


def cost_edit(cost: int, rationale: str) -> dict:
    """A SEARCH/REPLACE edit of the measured cost."""
    return edit("COST = 10", f"COST = {cost}", rationale)


def chain(costs: list[int]) -> list[dict]:
    """Edits that each rewrite COST, whatever its current value (whole-file replacement)."""
    return [{"edits": {"target.py": target(c)}, "rationale": f"cost {c}"} for c in costs]


def snapshot(root: Path) -> dict[str, str]:
    """Everything of the user's checkout: files (incl. untracked), HEAD, branch, index, stash."""
    files = {}
    for path in sorted(root.rglob("*")):
        if ".autoresearch" in path.parts or ".git" in path.parts or not path.is_file():
            continue
        files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        **files,
        "HEAD": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "index": hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest(),
        "status": git(root, "status", "--porcelain"),
        "stash": git(root, "stash", "list"),
    }


def rows(root: Path) -> list:
    store = Store(root / ".autoresearch" / "cm", create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def test_user_checkout_is_byte_identical_and_history_is_the_chain_of_kept(tmp_path: Path) -> None:
    root = make_repo(tmp_path, chain([8, 9, 5, 7, 3]))
    (root / "notes.md").write_text("uncommitted change\n")
    (root / "scratch.txt").write_text("untracked\n")
    git(root, "add", "notes.md")  # something staged too
    (root / "notes.md").write_text("uncommitted change, then more\n")
    before = snapshot(root)
    result = cli("run", str(root))
    assert result.returncode == 0, result.stderr
    assert snapshot(root) == before
    experiments = rows(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "reverted", "kept", "reverted", "kept"]
    assert [e.objective for e in experiments] == [10, 8, 9, 5, 7, 3]
    # every experiment's code stays reachable by ref, and its commit holds what it measured
    for e in experiments:
        assert git(root, "rev-parse", f"refs/autoresearch/cm/{e.id}").strip() == e.commit_sha
    assert "COST = 9" in git(root, "show", f"{experiments[2].commit_sha}:target.py")
    # the study branch is the best, and its history is exactly the kept chain, each better than its parent
    assert git(root, "rev-parse", "autoresearch/cm").strip() == experiments[-1].commit_sha
    log = git(root, "log", "--format=%H %s", "autoresearch/cm").splitlines()
    shas = [line.split()[0] for line in log]
    assert shas[:3] == [experiments[5].commit_sha, experiments[3].commit_sha, experiments[1].commit_sha]
    assert experiments[2].commit_sha not in shas and experiments[4].commit_sha not in shas
    # Written before the run: a candidate's commit names it and its rationale, never a result.
    assert log[0].endswith("autoresearch candidate #6") and log[1].endswith("autoresearch candidate #4")
    assert "cost 3" in git(root, "log", "-1", "--format=%b", shas[0])
    assert ".autoresearch/" in (root / ".git" / "info" / "exclude").read_text()


def test_best_show_and_apply(tmp_path: Path) -> None:
    long_line = "# " + "a long comment, wider than any terminal " * 5 + "\tand a tab\n"
    root = make_repo(tmp_path, [{"edits": {"target.py": target(4, long_line)}, "rationale": "cost 4"}, *chain([6])])
    run = cli("run", str(root))
    assert run.returncode == 0
    assert not (root / ".autoresearch" / "cm" / "worktrees").exists()  # cleaned when the study stopped
    # `best > best.patch` is a patch git applies: data on stdout byte for byte, the header on stderr.
    best = cli("best", str(root))
    assert best.returncode == 0 and best.stderr.startswith("# best: experiment 2")
    assert best.stdout.startswith("diff --git a/target.py") and "+COST = 4" in best.stdout
    assert f"+{long_line}" in best.stdout  # one line, its tab kept
    patch = tmp_path / "best.patch"
    patch.write_text(best.stdout)
    checked = subprocess.run(["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    show = cli("show", "3", str(root))
    assert "+COST = 6" in show.stdout and "reverted" in show.stdout
    # apply refuses to overwrite uncommitted work, and changes nothing then
    (root / "target.py").write_text(TARGET + "# my own edit\n")
    refused = cli("apply", str(root))
    assert refused.returncode == 1 and "uncommitted" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (root / "target.py").read_text() == TARGET + "# my own edit\n"
    git(root, "checkout", "target.py")
    never_ran = cli("apply", "99", str(root))
    assert never_ran.returncode == 1 and "no experiment 99" in never_ran.stderr
    applied = cli("apply", "--path", str(root))  # --path still works beside the positional PATH
    assert applied.returncode == 0, applied.stderr
    assert (root / "target.py").read_text() == target(4, long_line)
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    # A second apply finds exactly that candidate in the tree: already applied, not "uncommitted changes".
    again = cli("apply", str(root))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == (
        "experiment 2 is already applied: your working tree holds its target.py; nothing to do"
    )
    assert (root / "target.py").read_text() == target(4, long_line)
    # Another candidate over it is still refused: the tree holds changes that are not its baseline.
    other = cli("apply", "3", str(root))
    assert other.returncode == 1 and "uncommitted" in other.stderr


def test_apply_of_a_rejected_candidate_warns(tmp_path: Path) -> None:
    guard = '[[guard]]\nname = "small"\nmetric = "cost"\nmin = 5'
    root = make_repo(tmp_path, chain([4]), extra_spec=guard)
    assert cli("run", str(root)).returncode == 0
    assert rows(root)[1].decision == "rejected"
    applied = cli("apply", "2", str(root))
    assert applied.returncode == 0, applied.stderr
    assert "warning: experiment 2 failed its guard: guard small" in applied.stderr
    assert (root / "target.py").read_text() == target(4)


def test_show_points_to_the_guard_log(tmp_path: Path) -> None:
    failing = (
        '[[guard]]\nname = "tests"\ncommand = "python3 -c \'print(\\"test_work FAILED: expected 499500\\"); exit(1)\'"'
    )
    root = make_repo(tmp_path, chain([4]), extra_spec=failing)
    assert cli("run", str(root)).returncode == 1  # the guard fails the baseline too
    experiment = rows(root)[0]
    assert "guard tests failed (exit code 1): test_work FAILED: expected 499500" in (experiment.reason or "")
    show = cli("show", "1", str(root))
    assert f"logs       {experiment.log_dir}" in show.stdout
    assert "--- guard-tests.stdout.log (tail) ---\ntest_work FAILED: expected 499500" in show.stdout


def test_clean_removes_worktrees_and_run_recreates_them(tmp_path: Path) -> None:
    root = make_repo(tmp_path, chain([4, 3]), budget=2)
    assert cli("run", str(root)).returncode == 0
    worktrees = root / ".autoresearch" / "cm" / "worktrees"
    git(root, "worktree", "add", "-q", "--detach", str(worktrees / "0"), "HEAD")  # as a crash would leave it
    cleaned = cli("clean", str(root))
    assert cleaned.returncode == 0 and "removed" in cleaned.stdout, cleaned.stderr
    assert not worktrees.exists() and str(worktrees) not in git(root, "worktree", "list")
    assert cli("run", "--experiments", "3", str(root)).returncode == 0  # resumes, recreating a worktree
    assert [e.decision for e in rows(root)] == ["baseline", "kept", "kept"]


def test_an_uncommitted_file_the_baseline_needs_is_named(tmp_path: Path) -> None:
    root = make_repo(tmp_path, [])
    (root / "helper.py").write_text("X = 1\n")
    (root / "measure.py").write_text("import helper\n" + MEASURE)
    git(root, "add", "measure.py")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "needs helper.py")
    failed = cli("run", str(root))
    assert failed.returncode == 1 and "the baseline failed" in failed.stdout
    assert "not committed: helper.py" in failed.stdout and "include_uncommitted" in failed.stdout


@pytest.mark.parametrize(
    ("proposal", "reason"),
    [
        (edit("work(1000)", "work(1)", "cheat", path="measure.py"), "protected"),
        (edit("nope = 1", "nope = 2", "search text missing"), "not found"),
        (edit("def work(n):", "def work(n, m=0):", "outside the region"), "region"),
        ({"edits": "notes.md\n<<<<<<< SEARCH\nuser notes\n=======\nx\n>>>>>>> REPLACE\n"}, "not editable"),
        ({"edits": {"target.py": TARGET}}, "change nothing"),
        ({"params": {"x": 1}}, "code mode takes edits"),
        ({"nothing": 1}, '"params" or "edits"'),
    ],
)
def test_each_rejection_reason_is_recorded(tmp_path: Path, proposal: dict, reason: str) -> None:
    root = make_repo(tmp_path, [proposal, cost_edit(2, "fine")])
    assert cli("run", str(root)).returncode == 0
    experiments = rows(root)
    assert experiments[1].decision == "rejected" and reason in experiments[1].reason
    assert experiments[2].decision == "kept"  # the loop went on


def test_run_that_changes_a_protected_file_is_rejected_whatever_its_metric(tmp_path: Path) -> None:
    sneaky = target(1, "open(__file__.replace('target.py', 'data/split.txt'), 'w').write('1\\n')\n")
    # Without a sandbox the write happens and the hashes catch it (under bwrap data/ is read-only).
    no_sandbox = '[sandbox]\nkind = "none"'
    root = make_repo(tmp_path, [{"edits": {"target.py": sneaky}, "rationale": "shrink the split"}], no_sandbox)
    assert cli("run", str(root)).returncode == 0
    experiments = rows(root)
    assert experiments[1].decision == "rejected" and "data/split.txt" in experiments[1].reason
    assert experiments[1].objective == 1  # it measured great, and still was not kept
    assert git(root, "rev-parse", "autoresearch/cm").strip() == experiments[0].commit_sha


def test_files_the_experiment_creates_are_not_committed(tmp_path: Path) -> None:
    writer = target(2, "open('artifact.bin', 'w').write('x')\n")
    root = make_repo(tmp_path, [{"edits": {"target.py": writer}, "rationale": "writes an artifact"}])
    assert cli("run", str(root)).returncode == 0
    sha = rows(root)[1].commit_sha
    assert "artifact.bin" not in git(root, "ls-tree", "-r", "--name-only", sha)


def test_unified_diff_and_whole_file_formats(tmp_path: Path) -> None:
    diff = (
        "--- a/target.py\n+++ b/target.py\n@@ -5,3 +5,3 @@\n"
        " # autoresearch: begin\n-COST = 10\n+COST = 6\n # autoresearch: end\n"
    )
    whole = "=== target.py ===\n" + target(2)
    root = make_repo(
        tmp_path,
        [
            {"edits": diff, "format": "diff", "rationale": "diff"},
            {"edits": whole, "format": "whole", "rationale": "whole"},
        ],
    )
    assert cli("run", str(root)).returncode == 0
    assert [(e.decision, e.objective) for e in rows(root)] == [("baseline", 10), ("kept", 6), ("kept", 2)]


def test_include_uncommitted_starts_from_the_users_changes(tmp_path: Path) -> None:
    root = make_repo(tmp_path, chain([1]))
    (root / "target.py").write_text(target(7))
    assert cli("run", "--include-uncommitted", str(root)).returncode == 0
    assert rows(root)[0].objective == 7
    assert (root / "target.py").read_text() == target(7)  # still the user's, untouched


def with_agent(tmp_path: Path, script: str) -> Path:
    """A study whose proposer is the agent SCRIPT, committed in the repository (the agent's worktree has it)."""
    root = make_repo(tmp_path, [], budget=2)
    (root / "agent.py").write_text(script)
    spec = (root / "autoresearch.toml").read_text().replace(f"script:{PYTHON} replay.py", f"agent:{PYTHON} agent.py")
    (root / "autoresearch.toml").write_text(spec)
    git(root, "add", "-A")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "the agent")
    return root


def test_agent_proposer_takes_what_the_agent_changed(tmp_path: Path) -> None:
    root = with_agent(
        tmp_path,
        "import pathlib, sys\n"
        "prompt = sys.argv[1]\n"
        "assert 'cost' in prompt and 'target.py' in prompt\n"
        "p = pathlib.Path('target.py'); p.write_text(p.read_text().replace('COST = 10', 'COST = 3'))\n"
        "print('RATIONALE: set the cost to three')\n",
    )
    result = cli("run", str(root))
    assert result.returncode == 0, result.stderr
    experiments = rows(root)
    assert experiments[1].decision == "kept" and experiments[1].objective == 3
    assert experiments[1].rationale == "set the cost to three"
    assert "set the cost" in (Path(experiments[1].log_dir) / "response.md").read_text()
    assert "Goal" in (Path(experiments[1].log_dir) / "prompt.md").read_text()


def test_agent_changing_files_outside_editable_is_rejected(tmp_path: Path) -> None:
    root = with_agent(tmp_path, "import pathlib\npathlib.Path('notes.md').write_text('changed')\n")
    assert cli("run", str(root)).returncode == 0
    experiment = rows(root)[1]
    assert experiment.decision == "rejected" and "not editable: notes.md" in experiment.reason


def test_resume_after_sigkill_with_worktrees_in_any_state(tmp_path: Path) -> None:
    edits = [
        {"edits": {"target.py": target(9 - i, "import time; time.sleep(0.6)\n")}, "rationale": f"step {i}"}
        for i in range(8)
    ]
    root = make_repo(tmp_path, edits, budget=9)
    for delay in (1.0, 2.2, 0.4, 3.1):
        proc = subprocess.Popen(
            [sys.executable, "-m", "autoresearch", "run", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # leave a worktree dirty and locked, as a crash mid-checkout could
    worktree = root / ".autoresearch" / "cm" / "worktrees" / "0"
    if worktree.exists():
        (worktree / "target.py").write_text("garbage")
        (worktree / "stray.txt").write_text("x")
    final = cli("run", str(root))
    assert final.returncode == 0, final.stderr
    experiments = rows(root)
    assert len(experiments) == 9 and all(e.status == "done" for e in experiments)
    kept = [e for e in experiments if e.decision == "kept"]
    assert [e.objective for e in kept] == sorted((e.objective for e in kept), reverse=True)
    assert git(root, "rev-parse", "autoresearch/cm").strip() == kept[-1].commit_sha
    assert "COST = 2" in git(root, "show", "autoresearch/cm:target.py")


def test_a_study_in_a_subfolder_sees_the_rest_of_its_worktree_read_only(tmp_path: Path) -> None:
    # The spec lives in study/ of a larger repository whose shared code the experiment imports.
    repo = tmp_path / "repo"
    root = write_study(
        repo / "study",
        f"""
        [study]
        name = "sub"
        [run]
        command = "{PYTHON} measure.py"
        [metric]
        name = "cost"
        [code]
        editable = ["target.py"]
        [proposer]
        use = "script:{PYTHON} replay.py"
        [budget]
        experiments = 2
        """,
        {
            "target.py": TARGET,
            "replay.py": REPLAY,
            "measure.py": (
                "import sys; sys.path.insert(0, '..')\nfrom shared import SCALE\nfrom target import COST\n"
                "try:\n    open('../shared.py', 'a').write('# changed')\n    wrote = 1\n"
                "except OSError:\n    wrote = 0\n"
                "print('cost:', SCALE * COST)\nprint('wrote:', wrote)\n"
            ),
        },
    )
    (repo / "shared.py").write_text("SCALE = 2\n")
    (root / "edits.json").write_text(json.dumps(chain([4])))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "initial")
    assert cli("run", str(root)).returncode == 0
    store = Store(root / ".autoresearch" / "sub", create=False)
    try:
        experiments = store.experiments()
    finally:
        store.close()
    assert [(e.decision, e.objective) for e in experiments] == [("baseline", 20), ("kept", 8)]
    assert experiments[1].metrics["wrote"] == 0  # only the study's own folder is writable
