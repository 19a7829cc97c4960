"""Parameter importance without scikit-learn (report/importance.py), and a report that never imports it."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from autoresearch.ui.report.importance import average_ranks, epsilon_squared, rank_anova_importances
from tests.conftest import cli


def test_average_ranks_share_ties() -> None:
    assert average_ranks([0.3, 0.1, 0.3, 0.2]) == [3.5, 1.0, 3.5, 2.0]
    assert average_ranks([]) == []


def test_epsilon_squared_is_one_for_a_perfect_split_and_zero_without_groups() -> None:
    assert epsilon_squared(["a", "a", "b", "b"], [1, 1, 5, 5]) == 1.0
    assert epsilon_squared(["a", "a", "a"], [1, 2, 3]) == 0.0  # one group explains nothing
    assert epsilon_squared(["a", "b", "c"], [1, 2, 3]) == 0.0  # one row per group: no noise estimate


def test_the_parameter_that_drives_the_objective_comes_first() -> None:
    rng = random.Random(0)
    rows = []
    for _ in range(60):
        params = {"lr": 10 ** rng.uniform(-4, -1), "seed_like": rng.randint(0, 10**6), "act": rng.choice("xyz")}
        objective = abs(params["lr"] - 0.01) * 100 + rng.gauss(0, 0.05) + (0.3 if params["act"] == "x" else 0)
        rows.append((params, objective))
    importances = rank_anova_importances(rows, categorical={"act"})
    assert list(importances)[:2] == ["lr", "act"], importances
    assert sum(importances.values()) == pytest.approx(1.0)
    # A parameter with a value per row (a seed) splits the data finely: chance correction keeps it low.
    assert importances["seed_like"] < 0.1, importances


def test_many_choices_of_pure_noise_do_not_look_important() -> None:
    rng = random.Random(1)
    rows = [({"noise": rng.randint(0, 19), "x": x}, x + rng.gauss(0, 0.1)) for x in [rng.random() for _ in range(80)]]
    importances = rank_anova_importances(rows, categorical={"noise"})
    assert importances["x"] > 0.9 and importances["noise"] < 0.1, importances


def test_nothing_explained_is_one_clear_error() -> None:
    rows = [({"a": i % 3, "b": i}, 1.0) for i in range(12)]  # a constant objective
    with pytest.raises(ValueError, match="no parameter explains the objective beyond chance over 12 trials"):
        rank_anova_importances(rows, categorical=())


def test_report_never_imports_scikit_learn(bowl_study: Path, tmp_path: Path) -> None:
    # A real `autoresearch report` where importing scikit-learn fails loudly: it must not try.
    assert cli("run", "--experiments", "16", str(bowl_study)).returncode == 0
    hidden = tmp_path / "no-sklearn"
    (hidden / "sklearn").mkdir(parents=True)
    (hidden / "sklearn" / "__init__.py").write_text("raise RuntimeError('autoresearch report imported sklearn')\n")
    path = os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])
    report = cli("report", str(bowl_study), env_extra={"PYTHONPATH": path})
    assert report.returncode == 0, report.stderr
    markdown = (bowl_study / ".autoresearch" / "bowl" / "report" / "report.md").read_text()
    assert "## Parameter importance" in markdown and "Method: rank ANOVA" in markdown, markdown
