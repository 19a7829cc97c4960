"""apply writes the best, and never over a params file edited by hand."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli


def test_apply_never_overwrites_a_hand_edited_params_file(bowl_study: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    assert cli("apply", str(bowl_study)).returncode == 0
    target = bowl_study / "best_params.json"
    assert cli("apply", "3", str(bowl_study)).returncode == 0  # what apply wrote may be replaced
    target.write_text('{"x": 0.5, "y": -2.0, "note": "mine"}\n')
    refused = cli("apply", str(bowl_study))
    assert refused.returncode == 1 and "was changed since autoresearch wrote it" in refused.stderr
    assert target.read_text() == '{"x": 0.5, "y": -2.0, "note": "mine"}\n'
    assert cli("apply", "--force", str(bowl_study)).returncode == 0
    assert "note" not in target.read_text()
