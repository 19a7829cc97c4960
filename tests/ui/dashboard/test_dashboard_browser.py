"""Every page of a dashboard over several studies, in real headless Chromium: the index, each study's
page and an experiment of each, with no console error or uncaught exception anywhere (the `browser`
fixture asserts that at teardown)."""

from __future__ import annotations

from pathlib import Path

from autoresearch.ui.dashboard.server import serve
from tests.support.synthetic import make_study
from tests.ui.conftest import Browser

COUNTED = "document.getElementById('count') && +document.getElementById('count').textContent > 0"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_every_page_of_a_multi_study_dashboard(tmp_path: Path, browser: Browser) -> None:
    studies = {
        "tuned": make_study(tmp_path / "a" / ".autoresearch" / "tuned", 40, mode="params", seed=1),  # with a holdout
        "edited": make_study(tmp_path / "b" / ".autoresearch" / "edited", 30, mode="code", seed=2, holdout=False),
        "third": make_study(tmp_path / "c" / ".autoresearch" / "third", 12, mode="code", seed=3, holdout=False),
    }
    server = serve([store.study_dir for store in studies.values()])
    try:
        page = browser.new_page()
        page.goto(server.url)
        # Every card loads its figures and its plot (a script that does not parse leaves them on "loading…").
        page.wait_for_function(
            "[...document.querySelectorAll('.card .stats')].every(s => s.querySelector('#count'))", timeout=20_000
        )
        for i, (name, store) in enumerate(studies.items()):
            card = page.locator(".card").nth(i)
            assert card.locator("a.study").inner_text() == name
            assert int(card.locator("#count").inner_text()) == store.count()
            assert card.locator(".scatterlayer .point").count() > 0
        assert "holdout" in page.locator(".card").nth(0).inner_text()  # that it exists, never its values
        assert "holdout" not in page.locator(".card").nth(1).inner_text()
        assert "LLM spend" in page.locator(".card").nth(0).inner_text()  # the synthetic studies used an LLM
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-index.png"), full_page=True)
        for i, (name, store) in enumerate(studies.items()):
            page.goto(server.url)
            page.locator("a.study").nth(i).click()  # the link carries the token
            page.wait_for_function(COUNTED)
            assert page.locator("h1").first.inner_text().startswith(name)
            page.wait_for_function("document.querySelectorAll('#table tbody tr').length > 0")
            assert page.locator("#plot .scatterlayer .point").count() > 0
            assert page.locator("#lineage .scatterlayer .point").count() == store.count()
            page.locator("#table tbody tr a").first.click()
            page.wait_for_selector("#title")
            assert "Experiment #" in page.inner_text("#title")
            page.locator("a", has_text=f"← {name}").click()  # back to the study, the token carried along
            page.wait_for_function(COUNTED)
            page.locator("a", has_text="← all studies").click()
            page.wait_for_selector(".card")
    finally:
        server.stop()
        for store in studies.values():
            store.close()


def test_a_page_without_the_token_is_refused_not_half_drawn(tmp_path: Path, browser: Browser) -> None:
    store = make_study(tmp_path / ".autoresearch" / "one", 5, logs=False)
    server = serve([store.study_dir])
    try:
        page = browser.new_page()
        response = page.goto(server.url.split("?")[0])
        assert response is not None and response.status == 401
        assert "open the URL the dashboard printed" in page.inner_text("body")
        browser.errors.clear()  # the refusal itself is the console's one error here, as it should be
    finally:
        server.stop()
        store.close()
