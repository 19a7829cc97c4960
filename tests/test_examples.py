"""The shipped examples run for real, as a user would run them."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from autoresearch.propose.prompt import HistoryLimits, format_runs
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.store.history import History
from tests.conftest import cli

EXAMPLES = Path(__file__).parent.parent / "examples"


def rows(study_dir: Path) -> list:
    store = Store(study_dir, create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def tracked_copy(example: str, target: Path) -> Path:
    """The example as git knows it (its tracked files, as staged), not the live folder: a local run,
    `apply` or stray output there must not leak into the test."""
    folder = EXAMPLES / example
    listed = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=folder, capture_output=True, check=True)
    names = [n for n in listed.stdout.decode().split("\0") if n]
    assert names, f"examples/{example} has no tracked files"
    for name in names:
        blob = subprocess.run(["git", "show", f":./{name}"], cwd=folder, capture_output=True, check=True).stdout
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(blob)
    return target


# The quickstart as its README documents it, every command and figure: tests/test_docs.py.


@pytest.mark.local_llm
def test_quickstart_with_smollm2_proposing_every_candidate(tmp_path: Path) -> None:
    root = tracked_copy("quickstart", tmp_path / "quickstart")
    spec = (root / "autoresearch.toml").read_text().replace('use = "tpe"', 'use = "llm:local"')
    # A 135M model cannot be held to numeric ranges by a grammar, but it can to choices: the same
    # quickstart space, as grids (what a user would give so small a model).
    spec = spec.replace(
        "alpha = { low = 1e-6, high = 1e-1, log = true, default = 1e-4 }",
        "alpha = { choices = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], default = 1e-4 }",
    )
    spec = spec.replace(
        "lr = { low = 1e-4, high = 3e-2, log = true, default = 1e-3 }",
        "lr = { choices = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], default = 1e-3 }",
    )
    spec = spec.replace(
        "epochs = { low = 10, high = 120, step = 10, default = 30 }",
        "epochs = { choices = [10, 20, 30, 60, 90, 120], default = 30 }",
    )
    assert spec.count("choices") == 5
    (root / "autoresearch.toml").write_text(spec + "\n[proposer.options]\nlessons_every = 0\n")
    result = cli("run", "--experiments", "4", str(root), timeout=600)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "digits-mlp")
    candidates = experiments[1:]
    assert len(candidates) == 3 and all(e.proposer == "llm:local" for e in candidates)
    ran = [e for e in candidates if e.decision in ("kept", "reverted")]
    assert ran, [e.reason for e in candidates]
    for e in candidates:
        assert e.tokens_in and e.tokens_out
        assert (Path(e.log_dir) / "prompt.json").exists() or (Path(e.log_dir) / "prompt.md").exists()


def speedup_repository(tmp_path: Path) -> Path:
    root = tracked_copy("speedup", tmp_path / "speedup")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "example"], cwd=root, check=True
    )
    return root


def test_speedup_example_in_a_fresh_repository(tmp_path: Path) -> None:
    root = speedup_repository(tmp_path)
    result = cli("run", str(root), timeout=300)
    assert result.returncode == 0, result.stderr
    decisions = [(e.strategy, e.decision) for e in rows(root / ".autoresearch" / "speedup")]
    assert decisions[:6] == [
        (None, "baseline"),
        ("early-exit", "kept"),
        ("broken-bound", "rejected"),
        ("sqrt-bound", "kept"),
        ("cheat-protected", "rejected"),
        ("sieve", "kept"),
    ]
    best = cli("best", str(root))
    assert "+    sieve = bytearray([1]) * n" in best.stdout
    # The README's `git log` shows the study's chain, one commit per kept change, and not the history
    # it started from (here the repository's one commit, "example").
    readme = (EXAMPLES / "speedup" / "README.md").read_text()
    (git_log,) = [line.split("#")[0].split() for line in readme.splitlines() if line.startswith("git log")]
    chain = subprocess.run(git_log, cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()
    kept = [e for e in rows(root / ".autoresearch" / "speedup") if e.decision == "kept"]
    assert len(chain) == len(kept) >= 3 and not any(line.endswith(" example") for line in chain), chain
    # [profile] ran on each new best; a prompt built now shows the incumbent's: where the time goes.
    spec = load_spec(root)
    experiments = rows(spec.study_dir)
    assert [e.id for e in experiments if "profile" in e.extra] == [
        e.id for e in experiments if e.decision in ("baseline", "kept")
    ]
    history = History(spec.study.direction, experiments)
    runs = format_runs(history, history.tally.best, spec.study_dir, HistoryLimits())
    assert "Where the time goes (its profile, top entries):" in runs and "ncalls  tottime" in runs
    # The baseline's count_primes dominates its profile; after the sieve it can fall below the imports'
    # cumulative time in the top entries, so the function's name is checked where it must lead.
    baseline = next(e for e in experiments if e.decision == "baseline")
    assert "hot.py" in format_runs(history, baseline, spec.study_dir, HistoryLimits())
    assert "(count_primes)" in format_runs(history, baseline, spec.study_dir, HistoryLimits())


def test_speedup_example_with_two_workers_tries_every_edit(tmp_path: Path) -> None:
    """The script sees running candidates (id, strategy, rationale) and waits for the one it builds on."""
    root = speedup_repository(tmp_path)
    result = cli("run", "--workers", "2", str(root), timeout=300)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "speedup")
    decisions = {e.strategy: e.decision for e in experiments if e.strategy}
    assert decisions == {
        "early-exit": "kept",
        "broken-bound": "rejected",
        "sqrt-bound": "kept",
        "cheat-protected": "rejected",
        "sieve": "kept",
        "pure-python-loop": decisions["pure-python-loop"],  # a micro-change: kept or not, by its timing
    }
    assert len(experiments) == 7  # each edit once, nothing repeated
    assert "+    sieve = bytearray([1]) * n" in cli("best", str(root)).stdout


def test_hidden_labels_are_scored_by_a_scorer_the_candidate_cannot_fool(tmp_path: Path) -> None:
    root = tracked_copy("hidden_labels", tmp_path / "hl")
    result = cli("run", "--experiments", "4", str(root), timeout=300)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "hidden-labels")
    assert experiments[0].decision == "baseline"
    assert all(e.decision in ("baseline", "kept", "reverted") for e in experiments), [e.reason for e in experiments]
    assert 0.6 < experiments[0].objective < 0.99  # the scorer's accuracy on the 300 hidden labels
    assert (Path(experiments[0].log_dir) / "scorer.stdout.log").read_text().startswith("accuracy:")
    # A cheating candidate: it looks for the labels to copy and prints a perfect accuracy itself.
    (root / "train.py").write_text(
        "import os, shutil, pathlib\n"
        "out = pathlib.Path(os.environ['AUTORESEARCH_OUTPUT_DIR']) / 'predictions.csv'\n"
        "try:\n"
        "    shutil.copy('hidden/test_labels.csv', out)\n"
        "except OSError:\n"
        "    out.write_text('label\\n' + '0\\n' * 300)\n"
        "print('accuracy: 1.0')\n"
    )
    result = cli("run", "--experiments", "5", str(root), timeout=300)
    assert result.returncode == 0, result.stderr
    cheat = rows(root / ".autoresearch" / "hidden-labels")[-1]
    assert cheat.objective is not None and cheat.objective < 0.6  # all zeros: the labels stayed hidden
    assert cheat.decision == "reverted"


def test_trading_reports_search_and_holdout_and_its_guards_reject_lucky_and_ruinous_strategies(
    tmp_path: Path,
) -> None:
    root = tracked_copy("trading", tmp_path / "trading")
    result = cli("run", "--experiments", "6", str(root), timeout=300)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "trading")
    baseline = experiments[0]
    assert len(experiments) == 6 and baseline.decision == "baseline"
    # The defaults' mean Sharpe over the six yearly windows of 2006-2011, net of commissions.
    assert baseline.objective is not None and 0.2 < baseline.objective < 0.4, baseline.objective
    assert baseline.metrics["trades"] >= 12 and baseline.metrics["max_drawdown_pct"] < 25
    # Search and holdout are both reported, apart: the unseen 2012-13 period never reaches the metrics.
    for e in experiments:
        if e.decision in ("baseline", "kept"):
            assert e.holdout is not None and "holdout_sharpe" in e.holdout, e.id
        assert not any(name.startswith("holdout") for name in e.metrics), e.metrics
    assert (Path(baseline.log_dir) / "holdout" / "stdout.log").read_text().count("holdout_sharpe:") == 1

    # A fresh study whose proposer offers two bad strategies: a 200-day trend follower that trades four
    # times in six years (its Sharpe beats the baseline's by luck) and a 3/4-day whipsaw, long and short,
    # at 95% of equity.
    lucky = {"fast": 50, "slow_factor": 4.0, "stop_loss": 0.2, "size": 0.95, "short": False}
    ruinous = {"fast": 3, "slow_factor": 1.5, "stop_loss": 0.2, "size": 0.95, "short": True}
    bad = tracked_copy("trading", tmp_path / "bad")
    (bad / "todo.json").write_text(json.dumps([lucky, ruinous]))
    (bad / "propose.py").write_text(
        "import json, sys\n"
        "todo = json.load(open('todo.json'))\n"
        "tried = len(json.load(sys.stdin)['history']) - 1\n"
        "print(json.dumps({'params': todo[tried], 'rationale': 'bad'} if tried < len(todo) else {'done': True}))\n"
    )
    spec = (bad / "autoresearch.toml").read_text()
    (bad / "autoresearch.toml").write_text(spec.replace('use = "tpe"', 'use = "script:python3 propose.py"'))
    result = cli("run", str(bad), timeout=300)
    assert result.returncode == 0, result.stderr
    first, lucky_row, ruinous_row = rows(bad / ".autoresearch" / "trading")
    assert lucky_row.objective is not None and first.objective is not None
    assert lucky_row.objective > first.objective and lucky_row.metrics["trades"] < 12
    assert lucky_row.decision == "rejected" and "guard enough-trades" in lucky_row.reason
    assert ruinous_row.decision == "rejected" and "guard drawdown" in ruinous_row.reason
    assert ruinous_row.metrics["max_drawdown_pct"] > 25


def test_quadrature_keeps_a_pareto_front_of_time_and_error(tmp_path: Path) -> None:
    root = tracked_copy("quadrature", tmp_path)
    run = cli("run", str(root), "--experiments", "14")
    assert run.returncode == 0, run.stderr
    members = json.loads(cli("best", str(root)).stdout)
    assert len(members) >= 2  # a real trade-off: no single rule is both fastest and most accurate
    times = [m["objectives"]["time_ms"] for m in members]
    errors = [m["objectives"]["log10_error"] for m in members]
    by_time = sorted(zip(times, errors, strict=True))
    assert all(e1 > e2 for (_, e1), (_, e2) in itertools.pairwise(by_time))  # slower buys accuracy
    assert all(isinstance(m["params"]["points"], int) for m in members)
