"""A study whose store schema 2 wrote (fixtures/schema2_islands.sql), with the spec and files that wrote it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import BOWL, PYTHON, write_study

SCHEMA_2_STORE = Path(__file__).parent / "fixtures" / "schema2_islands.sql"

# Walks a fixed list of points, one per experiment so far, so that a resumed study proposes the same.
PROPOSE = """
import json, sys
study = json.load(sys.stdin)
n = len(study["history"]) + len(study["pending"])
points = [(0, 0), (0, 0), (3, -2), (0, -2), (1, -2), (1, -1.5), (2, -2), (1, -1.75), (4, 0), (1.5, -2),
          (0.5, -1.5), (1, -3)]
x, y = points[n % len(points)]
print(json.dumps({"params": {"x": x, "y": y}, "rationale": f"point {n}"}))
"""


def schema_2_study(root: Path, *, budget: int = 10, schema_sql: str | None = None) -> Path:
    """The fixture's study in ROOT: its spec (with BUDGET), files, and store (SCHEMA_SQL, default the fixture's
    own text) in .autoresearch/bowl. Returns the study folder."""
    write_study(
        root,
        f"""
        [study]
        name = "bowl"
        [run]
        command = "{PYTHON} bowl.py {{params_file}}"
        timeout = "60s"
        [metric]
        name = "loss"
        [params]
        x = {{ low = -5.0, high = 5.0 }}
        y = {{ low = -5.0, high = 5.0 }}
        [proposer]
        use = "script:{PYTHON} propose.py"
        [search]
        policy = "islands"
        [search.islands]
        count = 2
        migration_interval = 100
        novelty = false
        [budget]
        experiments = {budget}
        """,
        {"bowl.py": BOWL, "propose.py": PROPOSE},
    )
    study_dir = root / ".autoresearch" / "bowl"
    study_dir.mkdir(parents=True)
    db = sqlite3.connect(study_dir / "study.db")
    db.executescript(schema_sql if schema_sql is not None else SCHEMA_2_STORE.read_text())
    db.close()
    return study_dir
