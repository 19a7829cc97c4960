"""Staged evaluation: [[stage]] commands gate the full run, against the incumbent's value at each stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.execute.stages import missed
from autoresearch.spec import SpecError, StageSection, spec_from_dict
from tests.conftest import PYTHON, cli
from tests.redteam.conftest import code_study, params_study, run, whole

FULL = "import sys\nc = int(sys.argv[1])\nopen('full-ran.txt', 'a').write(f'{c} ')\nprint('loss:', 5 - c)\n"
SMOKE = "import sys\nsys.exit(1 if int(sys.argv[1]) == 13 else 0)\n"
SMALL = "import sys\nprint('loss:', {0: 5, 1: 4, 2: 3, 3: 3.5, 13: 0, 50: 100}[int(sys.argv[1])])\n"
STAGES = (
    f'[[stage]]\nname = "smoke"\ncommand = "{PYTHON} smoke.py {{cheat}}"\n'
    f'[[stage]]\nname = "small"\ncommand = "{PYTHON} small.py {{cheat}}"\nmax_worse = 0.1\n'
)


def test_stages_reject_before_the_full_run_in_params_mode(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 13, 50, 2, 3)],
        extra=STAGES,
        files={"exp.py": FULL, "smoke.py": SMOKE, "small.py": SMALL},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "rejected", "rejected", "kept", "rejected"]
    # The full command ran only for the candidates that passed every stage.
    assert (root / "full-ran.txt").read_text().split() == ["0", "1", "2"]
    assert experiments[0].extra["stages"] == {"small": 5.0}  # the baseline runs every stage
    assert (experiments[2].reason or "").startswith("stage smoke failed (exit code 1)")
    assert experiments[2].extra["stage_rejected"] == "smoke"
    assert experiments[3].reason == (
        "stage small: value 100 worse than the incumbent #2's 4 by more than max_worse = 0.1"
    )
    # The bar moved with the best: 3.5 passes against #2's 4 but not against #5's 3.
    assert (
        experiments[5].reason == "stage small: value 3.5 worse than the incumbent #5's 3 by more than max_worse = 0.1"
    )
    assert experiments[3].duration is not None and experiments[3].duration > 0  # the stages' time
    assert experiments[3].metrics == {}
    status = cli("status", str(root))
    assert "rejected at a stage: 3 (smoke 1, small 2)" in status.stdout, status.stdout
    show = cli("show", "5", str(root))
    assert "stages     small = 3" in show.stdout, show.stdout
    rejected = cli("show", "4", str(root))
    assert "stages     small = 100; rejected at small" in rejected.stdout, rejected.stdout
    assert "stage-small.stdout.log" in rejected.stdout  # the stage's own log, to see why


def test_stages_reject_in_code_mode(tmp_path: Path) -> None:
    evaluate = "import train\nopen('full-ran.txt', 'a').write('x')\nprint('loss:', train.train())\n"
    smoke = "import train\ntrain.train()\n"
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": evaluate, "train.py": "def train():\n    return 1.0\n", "smoke.py": smoke},
        [whole("def train():\n    return 0.5\n", "ok"), whole("def train():\n    raise SystemExit(3)\n", "breaks")],
        extra=f'[[stage]]\nname = "quick"\ncommand = "{PYTHON} evaluate.py"\nmax_worse_abs = 0.2\n'
        f'[[stage]]\nname = "smoke"\ncommand = "{PYTHON} smoke.py"\n',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "rejected"]
    assert experiments[1].extra["stages"] == {"quick": 0.5}
    assert (experiments[2].reason or "").startswith("stage quick failed (exit code 3)")


def test_a_stage_that_reports_nothing_is_named(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra=f'[[stage]]\nname = "proxy"\ncommand = "{PYTHON} proxy.py {{cheat}}"\nmax_worse_abs = 1\n',
        files={"exp.py": FULL, "proxy.py": "import sys\nif sys.argv[1] == '0':\n    print('loss: 1')\n"},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "rejected"]
    assert (experiments[1].reason or "").startswith("stage proxy: ")
    assert "loss" in (experiments[1].reason or "")
    assert (root / "full-ran.txt").read_text().split() == ["0"]


def test_re_measurements_do_not_run_the_stages(tmp_path: Path) -> None:
    small = "import sys\nopen('small-ran.txt', 'a').write(sys.argv[1] + ' ')\nprint('loss:', 5 - int(sys.argv[1]))\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra=f'[[stage]]\nname = "small"\ncommand = "{PYTHON} small.py {{cheat}}"\nmax_worse = 0.1\n'
        "[noise]\nrecheck_best = true\n",
        files={"exp.py": FULL, "small.py": small},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept"]
    assert "recheck" in experiments[1].extra  # the new best was measured again...
    assert (root / "full-ran.txt").read_text().split().count("1") > 1
    assert (root / "small-ran.txt").read_text().split() == ["0", "1"]  # ...without its stages


BASE = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}


def test_stage_spec_errors_are_one_clear_line() -> None:
    for stage, expected in [
        ({"name": "a", "command": "true", "max_worse": 0.1, "max_worse_abs": 1}, "not both"),
        ({"name": "a", "command": "true", "max_worse": -1}, "max_worse"),
        ({"name": "a"}, "command"),
        ({"name": "a b", "command": "true"}, "stage.0.name"),
    ]:
        with pytest.raises(SpecError) as info:
            spec_from_dict({**BASE, "stage": [stage]})
        assert expected in str(info.value)
    with pytest.raises(SpecError) as info:
        spec_from_dict({**BASE, "stage": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]})
    assert "a is used twice" in str(info.value)
    scored = {**BASE, "scorer": {"command": "true"}, "stage": [{"name": "a", "command": "x", "max_worse": 0.1}]}
    with pytest.raises(SpecError) as info:
        spec_from_dict(scored)
    assert "does not trust" in str(info.value)
    spec_from_dict({**scored, "stage": [{"name": "a", "command": "x"}]})  # a pass/fail stage is fine


def test_thresholds_follow_the_direction() -> None:
    relative = StageSection(name="s", command="true", max_worse=0.1)
    assert missed(relative, 10.9, 10.0, 1, "minimize") is None
    assert missed(relative, 11.1, 10.0, 1, "minimize") is not None
    assert missed(relative, 9.1, 10.0, 1, "maximize") is None
    assert missed(relative, 8.9, 10.0, 1, "maximize") is not None
    absolute = StageSection(name="s", command="true", max_worse_abs=2)
    assert missed(absolute, -1.5, 0.0, 1, "maximize") is None
    assert missed(absolute, -2.5, 0.0, 1, "maximize") is not None
    assert missed(StageSection(name="s", command="true"), 1e9, 0.0, 1, "minimize") is None


def test_on_resume_the_bar_is_the_stored_best() -> None:
    from autoresearch.core.experiment import Decision, Experiment
    from autoresearch.execute.stages import StageBar

    def row(id: int, decision: Decision, objective: float) -> Experiment:
        return Experiment(
            id=id, status="done", proposal={}, created_at=0.0, decision=decision, objective=objective,
            extra={"stages": {"small": objective + 1}},
        )  # fmt: skip

    history = [row(1, Decision.BASELINE, 5.0), row(2, Decision.KEPT, 3.0), row(3, Decision.REJECTED, 1.0)]
    bar = StageBar("minimize")
    bar.prime(history)
    assert bar.incumbent() == (2, {"small": 4.0})  # the rejected #3's better number is no bar
    maximising = StageBar("maximize")
    maximising.prime(history)
    assert maximising.incumbent() == (1, {"small": 6.0})
