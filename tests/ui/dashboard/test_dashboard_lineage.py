"""The dashboard's lineage panel: which experiment each was built on and the policy's lineage heads,
from a real tree search, over HTTP and drawn in real Chromium."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.ui.dashboard.server import serve
from autoresearch.ui.report.lineage import lineage_nodes
from tests.search.conftest import tree_study
from tests.ui.conftest import Browser


def test_lineage_api_and_panel(tmp_path: Path, browser: Browser) -> None:
    root = tree_study(tmp_path / "repo", budget=8, drafts=3, debug_probability=1.0, max_debug_depth=2)
    spec = load_spec(root)
    Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    nodes = lineage_nodes(store.experiments())
    heads = json.loads(store.get_meta("search_heads") or "{}")
    store.close()
    assert len(heads) == 4  # the baseline and the three drafts each have a measured best
    server = serve([spec.study_dir], token="tok")
    try:
        base = server.url.split("?")[0].rstrip("/")
        request = urllib.request.Request(base + "/api/t/lineage", headers={"X-Autoresearch-Token": "tok"})
        with urllib.request.urlopen(request, timeout=10) as response:
            lineage = json.loads(response.read())
        assert lineage["x"] == [n.id for n in nodes] and lineage["depth"] == [n.depth for n in nodes]
        assert lineage["p"] == [n.parent_id for n in nodes] and lineage["policy"] == "tree"
        assert {h["name"]: h["id"] for h in lineage["heads"]} == heads
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_function("document.querySelectorAll('#lineage .scatterlayer .point').length > 0")
        assert page.locator("#lineage .scatterlayer .point").count() == len(nodes)
        assert "search policy tree" in page.inner_text("#heads")
    finally:
        server.stop()
