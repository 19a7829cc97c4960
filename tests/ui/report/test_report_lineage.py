"""The lineage plot and the lineage heads in the report and `status`, from a real tree search."""

from __future__ import annotations

from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.ui.report.html import write_report
from autoresearch.ui.report.lineage import lineage_nodes
from tests.conftest import cli
from tests.search.conftest import tree_study


def test_report_and_status_show_the_tree(tmp_path: Path) -> None:
    root = tree_study(tmp_path / "repo", budget=8, drafts=3, debug_probability=1.0, max_debug_depth=2)
    spec = load_spec(root)
    Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    try:
        experiments = store.experiments()
        html_path, md_path = write_report(spec, store)
    finally:
        store.close()
    by_task = {e.id: e.extra.get("search", {}).get("task") for e in experiments}
    drafts = sorted(i for i, task in by_task.items() if task == "draft")
    crashed = drafts[1]
    nodes = {n.id: n for n in lineage_nodes(experiments)}
    # drafts hang off the baseline; the debug chain goes down under the crashed draft
    assert all(nodes[i].depth == 1 for i in drafts)
    debug = [i for i, task in by_task.items() if task == "debug"]
    assert [nodes[i].depth for i in debug] == [2, 3] and nodes[debug[0]].parent_id == crashed

    png = md_path.parent / "lineage.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    markdown = md_path.read_text()
    assert "## Lineage" in markdown and "Search policy: tree" in markdown and "![lineage](lineage.png)" in markdown
    best_draft = drafts[2]
    assert f"| draft-{best_draft} | #" in markdown and f"| draft-{drafts[0]} | #{drafts[0]} | 1 |" in markdown
    page = html_path.read_text()
    assert "id='lineage'" in page
    assert f"#{debug[0]} failed (debug), built on #{crashed}" in page  # each node's hover names its parent

    status = cli("status", str(root))
    assert status.returncode == 0, status.stderr
    assert f"search tree; best per lineage: baseline #1 0, draft-{drafts[0]} #{drafts[0]} 1" in status.stdout
