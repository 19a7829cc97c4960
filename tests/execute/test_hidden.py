"""The places hidden from every sandboxed process, found where they really are."""

from __future__ import annotations

import subprocess
from pathlib import Path

from autoresearch.execute.hidden import hidden_paths, hidden_places, inside
from autoresearch.spec import load_spec
from tests.conftest import write_study

SPEC = """
    [study]
    name = "h"
    [run]
    command = "true"
    [metric]
    name = "loss"
    [params]
    x = { low = 0, high = 1 }
    [scorer]
    command = "true"
    data = ["labels"]
    [holdout]
    command = "true"
    metric = "loss"
    data = ["held/out.csv"]
"""


def test_every_repository_above_the_spec_and_the_hidden_data(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    inner = outer / "projects" / "inner"
    subprocess.run(["git", "init", "-q", str(inner)], check=True)
    (tmp_path / "real_study_folder").mkdir()
    root = write_study(inner / "study", SPEC)
    (root / ".autoresearch").symlink_to(tmp_path / "real_study_folder")  # hidden where it really is
    spec = load_spec(root)
    assert hidden_paths(spec) == [
        (tmp_path / "real_study_folder").resolve(),
        (inner / ".git").resolve(),
        (outer / ".git").resolve(),
    ]
    assert hidden_places(spec) == [*hidden_paths(spec), (root / "labels").resolve(), (root / "held/out.csv").resolve()]


def test_inside_counts_the_folder_itself_and_nothing_beside_it() -> None:
    assert inside(Path("/a/b"), Path("/a/b")) and inside(Path("/a/b/c"), Path("/a/b"))
    assert not inside(Path("/a/bc"), Path("/a/b")) and not inside(Path("/a"), Path("/a/b"))
