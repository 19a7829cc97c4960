"""The report of a study with several objectives: front.png, the interactive front, the members' table."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from autoresearch.core.pareto import front
from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.ui.report.html import write_report_files
from tests.conftest import TRADE, trade_spec, write_study


def run_and_report(root: Path) -> tuple[list[Path], list[int], Store]:
    Loop(load_spec(root)).run()
    spec = load_spec(root)
    store = Store(spec.study_dir, create=False)
    written = write_report_files(spec, store)
    rows = sorted(store.experiments(), key=lambda e: (e.finished_at, e.id))
    assert spec.metric.objectives is not None
    names, directions = list(spec.metric.objectives), list(spec.metric.directions)
    kept = [r for r in rows if r.decision in ("baseline", "kept")]
    return written, [e.id for e in front(kept, directions, key=lambda e: e.point(names))], store


def test_the_report_draws_and_lists_the_front_of_two_objectives(tmp_path: Path) -> None:
    root = write_study(tmp_path, trade_spec(12), {"trade.py": TRADE})
    written, members, store = run_and_report(root)
    store.close()
    html_path, md_path, _progress, _lineage, front_png = written
    assert front_png.name == "front.png" and Image.open(front_png).size[0] > 600
    markdown = md_path.read_text()
    section = markdown.split("## Pareto front\n")[1].split("\n## ")[0]
    assert "![Pareto front](front.png)" in section and f"{len(members)} member(s)" in section
    assert "| # | time_ms (minimize) | accuracy (maximize) | change |" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(line.split("|")[1]) for line in rows] == members
    assert "'x': " not in section and "x=" in section  # what each member changed
    assert f"| Pareto front | {len(members)} members, hypervolume" in markdown
    page = html_path.read_text()
    assert "<h2 id='front'>Pareto front</h2>" in page and page.count("<tr><td>") >= len(members)


def test_three_objectives_are_drawn_pairwise(tmp_path: Path) -> None:
    three = TRADE + 'print("memory_mb:", 100.0 * p["y"] + 10.0 * (1.0 - p["x"]))\n'
    spec = (
        trade_spec(10)
        .replace('accuracy = "maximize" }}', 'accuracy = "maximize", memory_mb = "minimize" }}')
        .replace('accuracy = "maximize" }', 'accuracy = "maximize", memory_mb = "minimize" }')
    )
    root = write_study(tmp_path, spec, {"trade.py": three})
    written, members, store = run_and_report(root)
    store.close()
    front_png = written[-1]
    assert Image.open(front_png).size[0] > 2 * Image.open(front_png).size[1]  # three pairs side by side
    page = written[0].read_text()
    assert '"type":"splom"' in page.replace(" ", "")
    assert "memory_mb (minimize)" in written[1].read_text() and len(members) >= 1
