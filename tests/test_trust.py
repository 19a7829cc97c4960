"""Trustworthy results: spec validation, repeats and seeds, the keep rules, rechecks, holdout, reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoresearch.engine.judge import Sample, significance
from autoresearch.engine.loop import Loop
from autoresearch.propose.base import Context
from autoresearch.propose.prompt import HistoryLimits, format_history
from autoresearch.propose.script import context_payload
from autoresearch.spec import NoiseSection, SpecError, load_spec, spec_from_dict
from autoresearch.store.database import Store
from autoresearch.ui.report.markdown import render_markdown
from autoresearch.ui.report.summary import summarize_spec
from autoresearch.ui.terminal import status_text
from tests.conftest import PYTHON, cli
from tests.redteam.conftest import params_study, payloads, run

BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}


def error_for(**sections: object) -> str:
    with pytest.raises(SpecError) as info:
        spec_from_dict({**BASE, **sections})
    return str(info.value)


def test_invalid_trust_keys_are_clear_spec_errors() -> None:
    assert "needs min_delta" in error_for(noise={"rule": "min_delta"})
    assert "min_delta only applies" in error_for(noise={"min_delta": 0.1})
    assert "needs a noise estimate" in error_for(noise={"rule": "significant"})
    assert "only applies to rule" in error_for(noise={"test": "welch"})
    assert "noise.rule" in error_for(noise={"rule": "lenient"})
    assert "noise.alpha" in error_for(noise={"rule": "significant", "baseline_repeats": 3, "alpha": 2})
    assert "unknown key 'noise.factr'; did you mean 'factor'?" in error_for(noise={"factr": 2})
    assert "holdout.metric" in error_for(holdout={"command": "true"})
    assert "holdout.max_worsening" in error_for(holdout={"command": "true", "metric": "m", "max_worsening": -1})
    assert "must be relative" in error_for(integrity={"protected": ["/etc/passwd"]})
    assert "integrity.suspicious_sigmas" in error_for(integrity={"suspicious_sigmas": 0})
    assert "sandbox.kind" in error_for(sandbox="docker")
    assert "sandbox.memory" in error_for(sandbox={"memory": "lots"})
    assert "sandbox.processes" in error_for(sandbox={"processes": 0})
    spec = spec_from_dict({**BASE, "sandbox": "bwrap"})  # the shorthand
    assert spec.sandbox.kind == "bwrap" and spec.sandbox.network
    spec = spec_from_dict({**BASE, "sandbox": {"memory": "1GiB", "cpu_time": "2m", "file_size": "10MB"}})
    assert (spec.sandbox.memory, spec.sandbox.cpu_time, spec.sandbox.file_size) == (1024**3, 120, 10_000_000)
    assert spec_from_dict(BASE).sandbox.kind == "auto"  # bwrap where it works, else none with a warning
    assert "must be absolute" in error_for(sandbox={"writable": ["cache"]})
    scorer = {"command": "python score.py {output_dir}", "data": ["hidden"]}
    assert "metric.json cannot be combined with [scorer]" in error_for(
        scorer=scorer, metric={"name": "loss", "json": "out.json:loss"}
    )
    assert "scorer.data path '/srv/labels' must be relative" in error_for(scorer={**scorer, "data": ["/srv/labels"]})
    assert "holdout.data path '../x' must be relative" in error_for(
        holdout={"command": "true", "metric": "m", "data": ["../x"]}
    )
    assert "holdout.budget" in error_for(holdout={"command": "true", "metric": "m", "budget": 0})
    assert "cannot be combined with holdout.scorer" in error_for(
        holdout={"command": "true", "metric": "m", "json": "h.json:m", "scorer": "python s.py"}
    )
    assert "shown only to holdout.scorer" in error_for(holdout={"command": "true", "metric": "m", "scorer_data": ["y"]})


def test_a_study_without_a_sandbox_says_so_in_status_and_the_report(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra='[sandbox]\nkind = "none"',
        files={"exp.py": "import sys\nprint('loss:', 1 + int(sys.argv[1]))\n"},
    )
    result = cli("run", str(root))
    assert result.returncode == 0 and 'sandbox kind "none"' in result.stderr  # the run header
    assert 'sandbox kind "none"' in cli("status", str(root)).stdout
    assert cli("report", str(root)).returncode == 0
    assert 'sandbox kind "none"' in (root / ".autoresearch" / "rt" / "report" / "report.md").read_text()


def test_repeats_use_seeds_and_aggregate(tmp_path: Path) -> None:
    # loss = seed + cheat/10; seeds are study.seed + repeat index, as {seed} and AUTORESEARCH_SEED.
    experiment = (
        "import os, sys\nassert sys.argv[1] == os.environ['AUTORESEARCH_SEED']\n"
        "print('loss:', int(sys.argv[1]) + int(sys.argv[2]) / 10)\n"
    )
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{seed}} {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra="[noise]\nbaseline_repeats = 4",
        files={"exp.py": experiment},
    )
    toml = root / "autoresearch.toml"
    toml.write_text(
        toml.read_text().replace('name = "rt"', 'name = "rt"\nseed = 10').replace("[run]", "[run]\nrepeats = 3")
    )
    baseline, candidate = run(root)
    assert baseline.extra["repeats"] == [10.0, 11.0, 12.0, 13.0] and baseline.objective == 11.5
    assert candidate.extra["seeds"] == [10, 11, 12] and candidate.objective == pytest.approx(11.1)
    assert candidate.extra["std"] == pytest.approx(1.0) and candidate.extra["stderr"] == pytest.approx(3**-0.5)
    assert candidate.decision == "kept" and candidate.extra["strict_keep"] is True
    assert (Path(candidate.log_dir or "") / "repeat-2" / "stdout.log").read_text() == "loss: 12.1\n"
    shown = cli("show", "2", str(root)).stdout
    assert "repeats    [10.1, 11.1, 12.1]" in shown


def test_significance_factor_and_welch() -> None:
    noisy = Sample(0.0, (-1.0, 0.0, 1.0))
    factor = NoiseSection(rule="significant", factor=2.0, baseline_repeats=2)
    assert not significance(Sample(-1.0, (-2.0, -1.0, 0.0)), noisy, None, factor, "minimize").keep
    assert significance(Sample(-3.0, (-4.0, -3.0, -2.0)), noisy, None, factor, "minimize").keep
    welch = NoiseSection(rule="significant", test="welch", alpha=0.05, baseline_repeats=2)
    verdict = significance(Sample(-3.0, (-4.0, -3.0, -2.0)), noisy, None, welch, "minimize")
    assert verdict.keep and "Welch p = 0.0" in verdict.reason
    # One measurement each: the baseline's spread is the per-measurement noise.
    baseline = Sample(0.0, (-1.0, 1.0, -1.0, 1.0))
    assert not significance(Sample(-2.0, (-2.0,)), Sample(0.0, (0.0,)), baseline, factor, "minimize").keep
    assert significance(Sample(-4.0, (-4.0,)), Sample(0.0, (0.0,)), baseline, factor, "minimize").keep


# The first run of each `cheat` value is lucky (0.5); every later run measures its true value.
LUCKY = """
import os, sys
cheat = sys.argv[1]
seen = f"seen-{cheat}-{os.environ['AUTORESEARCH_EXPERIMENT_ID']}"
first = cheat != "0" and not any(name.startswith(f"seen-{cheat}-") for name in os.listdir("."))
open(seen, "a").close()
print("loss:", 0.5 if first else {"0": 5.0, "1": 6.0, "2": 4.0, "3": 5.0}[cheat])
"""


def test_recheck_best_catches_a_regression_to_the_mean(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}, {"params": {"cheat": 2}}],
        extra="[noise]\nrecheck_best = true",
        files={"exp.py": LUCKY},
    )
    _, lucky, real = run(root)
    assert lucky.decision == "reverted" and "regression to the mean" in (lucky.reason or "")
    assert lucky.extra["recheck"] == {
        "seed_offset": 2000,
        "candidate": [6.0],
        "incumbent_id": 1,
        "incumbent": [5.0],
        "kept": False,
    }
    assert real.decision == "kept" and "confirmed on fresh seeds" in (real.reason or "")


def test_suspicious_gain_is_flagged_and_rechecked(tmp_path: Path) -> None:
    # cheat 3's first run is a fluke (4.0, far beyond the history's spread); its re-run measures 5.03.
    experiment = (
        "import os, sys\ncheat = int(sys.argv[1])\n"
        "first = cheat == 3 and not os.path.exists('seen-3')\n"
        "open(f'seen-{cheat}', 'a').close()\n"
        "print('loss:', 4.0 if first else 5.0 + cheat / 100)\n"
    )
    proposals = [{"params": {"cheat": c}} for c in (1, 2, 4, 5, 3)]
    root = params_study(tmp_path / "s", f"{PYTHON} exp.py {{cheat}}", proposals, files={"exp.py": experiment})
    toml = root / "autoresearch.toml"
    toml.write_text(toml.read_text() + "\n[integrity]\nrecheck_suspicious = true\nsuspicious_sigmas = 4\n")
    experiments = run(root)
    hack = experiments[-1]
    assert hack.decision == "rejected" and "re-run gave 5.03" in (hack.reason or ""), hack.reason
    assert any(flag.startswith("suspicious") for flag in hack.extra["flags"])
    assert "flagged 1" in cli("status", str(root)).stdout


def test_status_and_report_say_what_strict_would_have_kept(tmp_path: Path) -> None:
    noisy = "import random, sys\nprint('loss:', 1.0 - int(sys.argv[1]) / 1000 + random.gauss(0, 0.1))\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2, 3, 4, 5, 6)],
        extra='[noise]\nrule = "min_delta"\nmin_delta = 100',
        files={"exp.py": noisy},
    )
    experiments = run(root)
    strict = sum(1 for e in experiments if e.extra.get("strict_keep"))
    assert all(e.decision in ("baseline", "reverted") for e in experiments)
    line = f"kept 0; the strict rule would have kept {strict}"
    spec = load_spec(root)
    store = Store(spec.study_dir, create=False)
    try:
        assert line in status_text(spec, store)
        assert f"| noise | {line} |" in render_markdown(summarize_spec(spec, store.experiments()))
    finally:
        store.close()


def test_holdout_runs_on_kept_and_baseline_only_and_no_proposer_sees_it(tmp_path: Path) -> None:
    experiment = "import sys\nprint('loss:', {0: 5.0, 1: 4.0, 2: 6.0, 3: 3.0}[int(sys.argv[1])])\n"
    holdout = (
        "import sys\nopen('holdout-ran.txt', 'a').write(sys.argv[1] + '\\n')\n"
        "print('acc:', 0.987654 - int(sys.argv[1]) / 1000)\n"
    )
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2, 3)],
        extra=f'[holdout]\ncommand = "{PYTHON} holdout.py {{cheat}}"\nmetric = "acc"',
        files={"exp.py": experiment, "holdout.py": holdout},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "reverted", "kept"]
    assert (root / "holdout-ran.txt").read_text().split() == ["0", "1", "3"]
    assert experiments[3].holdout == {"acc": pytest.approx(0.984654)}
    assert experiments[2].holdout is None
    assert "0.98" not in payloads(root)
    # The loop's context, as every proposer gets it (LLM prompts and script payloads are built from it).
    spec = load_spec(root)
    loop = Loop(spec)
    loop.store = Store(spec.study_dir, create=False)
    try:
        loop._load_history()
        context: Context = loop.context()
        assert all(e.holdout is None for e in context.history) and context.best and context.best.holdout is None
        assert "0.98" not in json.dumps(context_payload(context))
        limits = HistoryLimits.from_options({})
        assert "0.98" not in format_history(context.history, "params", limits)
    finally:
        loop.store.close()


def test_the_holdout_budget_bounds_its_decisions_across_resumes_and_is_reported(tmp_path: Path) -> None:
    experiment = "import sys\nprint('loss:', 5.0 - int(sys.argv[1]))\n"
    holdout = "import sys\nopen('holdout-ran.txt', 'a').write(sys.argv[1] + '\\n')\nprint('acc:', 0.9)\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2, 3, 4)],
        extra=f'[holdout]\ncommand = "{PYTHON} holdout.py {{cheat}}"\nmetric = "acc"\nbudget = 2',
        files={"exp.py": experiment, "holdout.py": holdout},
    )
    spec_file = root / "autoresearch.toml"
    spec_file.write_text(spec_file.read_text().replace("experiments = 5", "experiments = 2"))
    assert [e.decision for e in run(root)] == ["baseline", "kept"]
    spec_file.write_text(spec_file.read_text().replace("experiments = 2", "experiments = 5"))  # resume
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "kept", "kept", "kept"]
    assert (root / "holdout-ran.txt").read_text().split() == ["0", "1", "2"]  # the baseline, then 2 decisions
    assert [e.holdout is not None for e in experiments] == [True, True, True, False, False]
    assert "holdout budget spent (2 of 2 decisions)" in (experiments[3].reason or "")
    spec = load_spec(root)
    store = Store(spec.study_dir, create=False)
    try:
        assert "holdout budget spent (2 of 2 decisions): the holdout is no longer consulted" in status_text(spec, store)
        markdown = render_markdown(summarize_spec(spec, store.experiments()))
    finally:
        store.close()
    assert "holdout budget spent (2 of 2 decisions)" in markdown


def test_report_flags_holdout_divergence(tmp_path: Path) -> None:
    experiment = "import sys\nprint('loss:', 5.0 - int(sys.argv[1]))\n"
    holdout = "import sys\nprint('holdout_loss:', {0: 0.5, 1: 0.4, 2: 0.6, 3: 0.7}[int(sys.argv[1])])\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2, 3)],
        extra=f'[holdout]\ncommand = "{PYTHON} holdout.py {{cheat}}"\nmetric = "holdout_loss"',
        files={"exp.py": experiment, "holdout.py": holdout},
    )
    assert [e.decision for e in run(root)] == ["baseline", "kept", "kept", "kept"]
    result = cli("report", str(root))
    assert result.returncode == 0, result.stderr
    markdown = next((root / ".autoresearch" / "rt").rglob("report.md")).read_text()
    assert "DIVERGENCE" in markdown


def test_guards_reject_in_params_mode(tmp_path: Path) -> None:
    experiment = "import sys\nc = int(sys.argv[1])\nprint('loss:', 5 - c)\nprint('mem:', 100 * c)\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}, {"params": {"cheat": 3}}, {"params": {"cheat": 2}}],
        extra=(
            '[[guard]]\nname = "memory"\nmetric = "mem"\nmax = 250\n'
            f'[[guard]]\nname = "tests"\ncommand = "{PYTHON} -c \\"import sys; sys.exit({{cheat}} == 2)\\""\n'
        ),
        files={"exp.py": experiment},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "rejected", "rejected"]
    assert "guard memory: mem = 300 is above max 250" in (experiments[2].reason or "")
    assert (experiments[3].reason or "").startswith("guard tests failed (exit code 1)")


def test_guards_reject_in_code_mode(tmp_path: Path) -> None:
    from tests.redteam.conftest import code_study, whole

    evaluate = "import train\nprint('loss:', train.train())\n"
    guard = "import train, sys\nsys.exit(0 if train.train() > 0 else 1)\n"
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": evaluate, "train.py": "def train():\n    return 1.0\n", "guard.py": guard},
        [whole("def train():\n    return 0.5\n", "ok"), whole("def train():\n    return -1.0\n", "breaks the test")],
        extra=f'[[guard]]\nname = "positive"\ncommand = "{PYTHON} guard.py"',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "rejected"]
    assert "guard positive failed" in (experiments[2].reason or "")
