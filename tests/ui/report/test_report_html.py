"""report.html is one self-contained file: nothing fetched from outside, plots render offline."""

from __future__ import annotations

import base64
import gzip
import html
import re
import shutil
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from autoresearch.spec import Spec
from autoresearch.store.database import Store
from autoresearch.ui.report.html import packed_plotlyjs, write_report
from tests.support.synthetic import make_study

CHROMIUM = "/usr/bin/chromium"

# Any attribute or CSS reference that would make the browser fetch something.
_FETCHING = re.compile(
    r"""<(?:script|img|iframe|embed|source|audio|video)\b[^>]*\bsrc\s*=\s*["']?(?!data:|#)([^"'\s>]+)"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?([^"'\s>]+)"""
    r"""|@import\s+(?:url\()?["']?(https?:[^"')\s]+)""",
    re.IGNORECASE,
)


def _outside_html(page: str) -> str:
    """The page without the inline plotly.js bundle, whose source legitimately mentions URLs."""
    bundle = packed_plotlyjs()
    assert page.count(bundle) == 1, "plotly.js must be embedded inline exactly once"
    assert gzip.decompress(base64.b64decode(bundle)).decode() == get_plotlyjs()  # the whole of it
    return page.replace(bundle, "")


def test_report_of_30_experiments_is_small_and_says_why(spec_params: Spec, tmp_path: Path) -> None:
    store = make_study(spec_params.study_dir, 30, seed=13)
    failed = next(e for e in store.experiments() if e.decision == "failed")
    hint = "the SEARCH text was not found in src/hot.py. The closest lines are:\n  12: return n <= 1"
    store.update(failed.id, reason=hint)
    html_path, md_path = write_report(spec_params, store)
    assert html_path.stat().st_size < 2_500_000  # plotly.js packed once; 4.8 MB unpacked
    page, markdown = html_path.read_text(), md_path.read_text()
    assert "<h2 id='experiments'>Experiments</h2>" in page and "## Experiments" in markdown
    for e in store.experiments():  # every experiment has its row, with why it was decided so
        assert f"<tr><td>{e.id}</td>" in page and e.reason and e.reason.split("\n")[0][:40] in html.unescape(page)
    assert "src/hot.py. The closest lines are:\n  12: return n &lt;= 1" in page  # not mangled nor dropped


def test_report_html_references_nothing_outside(spec_params: Spec, study_300: Store) -> None:
    html_path, _ = write_report(spec_params, study_300)
    page = _outside_html(html_path.read_text())
    assert not _FETCHING.findall(page)
    # Outside the bundle there is no absolute URL at all (no CDN, fonts, or tracking pixels).
    assert not re.findall(r"https?://", page)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_report_html_renders_offline(spec_params: Spec, study_300: Store, tmp_path: Path) -> None:
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    html_path, _ = write_report(spec_params, study_300)
    # Open a copy alone in an empty folder, so that even a relative reference would fail.
    lonely = tmp_path / "alone" / "report.html"
    lonely.parent.mkdir()
    shutil.copy(html_path, lonely)
    requested: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: (
                    requested.append(route.request.url),
                    route.continue_() if route.request.url.startswith("file:") else route.abort(),
                ),
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(lonely.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5")
            n_plots = page.locator(".js-plotly-plot").count()
            n_points = page.locator("#progress ~ div .scatterlayer .point").count()
        finally:
            browser.close()
    assert requested == [lonely.as_uri()]
    assert not errors
    assert n_plots >= 5  # progress, holdout, strategies, importance, slices
    assert n_points >= 250  # the progress plot drew the experiments, not an empty frame
