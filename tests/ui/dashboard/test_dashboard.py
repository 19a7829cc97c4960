"""The live dashboard: HTTP API against the store, token rules, and end to end in real Chromium."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.core.experiment import INCUMBENT, incumbent_of
from autoresearch.store.database import Store
from autoresearch.ui.dashboard.server import DashboardError, DashboardServer, serve
from autoresearch.ui.dashboard.study_view import MAX_PAGE
from autoresearch.ui.report.summary import running_best, summarize
from tests.conftest import BOWL, bowl_spec, write_study
from tests.store.conftest import schema_2_study
from tests.support.synthetic import SyntheticWriter, make_study
from tests.ui.conftest import Browser, LiveStudy

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _get(
    server: DashboardServer, path: str, headers: dict[str, str] | None = None, *, auth: bool = True
) -> tuple[int, bytes, dict]:
    """GET PATH, with the server's token in a header when AUTH (every test but the token's own)."""
    base = server.url.split("?")[0].rstrip("/")
    sent = ({"X-Autoresearch-Token": server.token} if auth else {}) | (headers or {})
    request = urllib.request.Request(base + path, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@pytest.fixture
def study(tmp_path: Path) -> Store:
    return make_study(tmp_path / ".autoresearch" / "demo", 120, mode="code", seed=6)


@pytest.fixture
def server(study: Store) -> Iterator[DashboardServer]:
    srv = serve([study.study_dir])
    yield srv
    srv.stop()


def test_api_matches_store_and_follows_writes(study: Store, server: DashboardServer) -> None:
    status, body, _ = _get(server, "/api/demo/state")
    state = json.loads(body)
    assert status == 200
    assert state["total"] == study.count() and state["counts"] == study.counts_by_decision()
    assert abs(state["cost_usd"] - study.total_cost()) < 1e-9
    incumbent = incumbent_of(study.experiments())  # the same headline as `status` and `best`
    assert incumbent is not None and (state["best"], state["best_id"]) == (incumbent.objective, incumbent.id)
    # Unchanged store: the poll answer is tiny.
    _, body, _ = _get(server, f"/api/demo/state?since={state['generation']}")
    assert json.loads(body) == {"generation": state["generation"], "unchanged": True}
    # Another connection writes (running, then done): the next poll sees both steps.
    writer = Store(study.study_dir)
    running = writer.start_experiment(proposal={"edits": "x"}, strategy="explore")
    new = json.loads(_get(server, f"/api/demo/state?since={state['generation']}")[1])
    assert new["total"] == state["total"] + 1 and new["running"] == [running.id]
    writer.finish_experiment(running.id, decision="failed", reason="timeout after 9s")
    done = json.loads(_get(server, "/api/demo/state")[1])
    assert done["running"] == [] and done["counts"]["failed"] == state["counts"].get("failed", 0) + 1


def test_table_pages_sorts_and_filters(study: Store, server: DashboardServer) -> None:
    rows = json.loads(_get(server, "/api/demo/experiments?sort=objective&order=asc&limit=10")[1])
    expected = sorted((e for e in study.experiments() if e.objective is not None), key=lambda e: (e.objective, e.id))
    assert [r["id"] for r in rows["rows"]] == [e.id for e in expected[:10]]
    assert rows["total"] == 120 and "diff" not in rows["rows"][0]  # the list never ships diffs
    first = study.get(rows["rows"][0]["id"])  # params and metrics arrive decoded, as the store holds them,
    # less a metric named like the holdout's (the synthetic holdout is val_loss), as proposers see them.
    shown_metrics = {k: v for k, v in (first.metrics or {}).items() if k != "val_loss"}
    assert rows["rows"][0]["params"] == first.params and rows["rows"][0]["metrics"] == shown_metrics
    kept = json.loads(_get(server, "/api/demo/experiments?decision=kept")[1])
    assert kept["total"] == study.counts_by_decision()["kept"]
    capped = json.loads(_get(server, "/api/demo/experiments?limit=100000")[1])
    assert len(capped["rows"]) == min(120, MAX_PAGE)


def test_experiment_page_shows_diff_logs_and_prompt(study: Store, server: DashboardServer) -> None:
    e = study.experiments()[5]
    status, body, _ = _get(server, f"/study/demo/experiment/{e.id}")
    page = body.decode()
    assert status == 200
    assert "+lr = " in page and "epoch 4 loss" in page and "prompt.json" in page and "improve it" in page
    assert _get(server, "/study/demo/experiment/99999")[0] == 404
    assert _get(server, "/api/nope/state")[0] == 404


def test_non_loopback_host_requires_a_token(study: Store) -> None:
    with pytest.raises(DashboardError, match="without a token"):
        serve([study.study_dir], host="0.0.0.0")


def test_token_is_enforced_and_accepted_three_ways(study: Store) -> None:
    server = serve([study.study_dir], host="0.0.0.0", token="s3cret")
    try:
        port = server.server_address[1]
        assert server.url.endswith("/?token=s3cret")
        assert _get(server, "/api/demo/state", auth=False)[0] == 401
        assert _get(server, "/api/demo/state?token=wrong", auth=False)[0] == 401
        status, _, headers = _get(server, "/?token=s3cret", auth=False)
        assert status == 200 and f"autoresearch_token_{port}=s3cret" in headers.get("Set-Cookie", "")
        assert _get(server, "/api/demo/state", {"X-Autoresearch-Token": "s3cret"}, auth=False)[0] == 200
        assert _get(server, "/api/demo/state", {"Authorization": "Bearer s3cret"}, auth=False)[0] == 200
        cookie = {"Cookie": f"autoresearch_token_{port}=s3cret"}
        assert _get(server, "/api/demo/state", cookie, auth=False)[0] == 200
        # Another dashboard's cookie (another port) is not this one's.
        assert _get(server, "/api/demo/state", {"Cookie": "autoresearch_token_1=s3cret"}, auth=False)[0] == 401
    finally:
        server.stop()


def test_several_studies_on_one_page(tmp_path: Path) -> None:
    a = make_study(tmp_path / "a" / ".autoresearch" / "same", 5, logs=False)
    b = make_study(tmp_path / "b" / ".autoresearch" / "same", 7, logs=False)
    server = serve([a.study_dir, b.study_dir])
    try:
        studies = json.loads(_get(server, "/api/studies")[1])
        assert [(s["name"], s["total"]) for s in studies] == [("same", 5), ("same-2", 7)]
        assert "same-2" in _get(server, "/")[1].decode()
    finally:
        server.stop()


@pytest.fixture
def running_study(tmp_path: Path) -> Iterator[LiveStudy]:
    """A study being written by a real `autoresearch run` (0.3 s experiments), stopped with Ctrl-C."""
    root = write_study(
        tmp_path / "live",
        bowl_spec(400, "random").replace("bowl.py {params_file}", "slow_bowl.py {params_file}"),
        {"slow_bowl.py": "import time\ntime.sleep(0.3)\n" + BOWL},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "run", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    study_dir = root / ".autoresearch" / "bowl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (study_dir / "study.db").exists():
        time.sleep(0.1)
    try:
        yield LiveStudy(study_dir, "minimize", proc.kill)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 130  # interrupted like any command, cleanly: it is resumable


def test_dashboard_live_in_chromium(running_study: LiveStudy, browser: Browser) -> None:
    server = serve([running_study.study_dir], token="tok")
    try:
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_function("document.getElementById('count') && +document.getElementById('count').textContent > 0")
        first = int(page.inner_text("#count"))
        page.evaluate("window.__notReloaded = true")
        # The writer keeps adding experiments; the count must grow with no navigation.
        page.wait_for_function(f"+document.getElementById('count').textContent > {first}", timeout=15_000)
        assert page.evaluate("window.__notReloaded") is True
        assert page.locator("#plot .scatterlayer .point").count() > 0
        assert page.locator("#table tbody tr").count() > 0
        assert "LLM spend" not in page.inner_text("#stats")  # the study's proposer is no LLM
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
        page.locator("#table tbody tr a").first.click()
        page.wait_for_selector("#title")
        assert "Experiment #" in page.inner_text("#title")
        assert page.locator("#stdout").count() == 1 and page.locator("#rationale").count() == 1
        page.screenshot(path=str(ARTIFACTS / "dashboard-experiment.png"), full_page=True)
    finally:
        server.stop()


def test_view_survives_a_study_that_has_not_started(tmp_path: Path) -> None:
    server = serve([tmp_path / ".autoresearch" / "later"])
    try:
        state = json.loads(_get(server, "/api/later/state")[1])
        assert state["total"] == 0
        store = Store(tmp_path / ".autoresearch" / "later")
        SyntheticWriter(store, logs=False, start_time=time.time()).step()
        assert json.loads(_get(server, "/api/later/state")[1])["total"] == 1
    finally:
        server.stop()


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_headline_figures_are_the_reports(tmp_path: Path, direction: str) -> None:
    # The dashboard computes from its own light rows but through report/summary.py's definitions.
    store = make_study(tmp_path / ".autoresearch" / "same", 60, direction=direction, seed=3)
    srv = serve([store.study_dir])
    try:
        state = json.loads(_get(srv, "/api/same/state")[1])
    finally:
        srv.stop()
    experiments = store.experiments()
    summary = summarize(experiments, direction)
    assert (state["best"], state["best_id"], state["baseline"]) == (summary.best, summary.best_id, summary.baseline)
    assert state["improvement_pct"] == pytest.approx(summary.improvement_pct)
    assert state["keep_rate"] == pytest.approx(summary.keep_rate)
    incumbents = [e for e in experiments if e.decision in INCUMBENT and e.objective is not None]
    xs, ys = running_best(incumbents, experiments[-1].id, direction)  # the line progress.png draws
    assert state["best_line"] == {"x": xs, "y": ys}
    store.close()


def test_headline_best_is_the_incumbent_decided_last(tmp_path: Path) -> None:
    # Under the paired rule a kept candidate's own first run may score below its predecessor's; the
    # dashboard's headline is still the incumbent, as in `status` and `best`.
    store = Store(tmp_path / ".autoresearch" / "paired")
    store.set_meta("direction", "minimize")
    for decision, objective in [("baseline", 1.0), ("kept", 0.5), ("reverted", 0.4), ("kept", 0.6)]:
        row = store.start_experiment(proposal={})
        store.finish_experiment(row.id, decision=decision, objective=objective)
    srv = serve([store.study_dir])
    try:
        state = json.loads(_get(srv, "/api/paired/state")[1])
    finally:
        srv.stop()
        store.close()
    assert (state["best"], state["best_id"]) == (0.6, 4)


def test_a_study_an_older_version_wrote_is_upgraded_and_shows_its_global_best(tmp_path: Path) -> None:
    # Its store is schema 2 (flags in `extra`): the dashboard reads the columns that replaced them.
    study_dir = schema_2_study(tmp_path)
    srv = serve([study_dir])
    try:
        state = json.loads(_get(srv, "/api/bowl/state")[1])
    finally:
        srv.stop()
    # #8 was kept last, on its island, without beating the global best #5.
    assert (state["best"], state["best_id"], state["baseline"]) == (0.0, 5, 5.0)
    assert state["counts"] == {"failed": 1, "baseline": 1, "kept": 5, "reverted": 2, "running": 1}


def test_headline_best_is_the_global_best_under_islands(tmp_path: Path) -> None:
    # A candidate kept against its island's incumbent that did not beat the global best (became_best false)
    # is not the headline, as in `status`, `best` and the report's summary.
    store = Store(tmp_path / ".autoresearch" / "islands")
    store.set_meta("direction", "minimize")
    for decision, objective, is_best in [("baseline", 1.0, True), ("kept", 0.5, True), ("kept", 0.8, False)]:
        row = store.start_experiment(proposal={})
        store.finish_experiment(row.id, decision=decision, objective=objective, became_best=is_best)
    srv = serve([store.study_dir])
    try:
        state = json.loads(_get(srv, "/api/islands/state")[1])
    finally:
        srv.stop()
    summary = summarize(store.experiments(), "minimize")
    store.close()
    assert (state["best"], state["best_id"]) == (0.5, 2) == (summary.best, summary.best_id)


def test_the_dashboard_shows_the_pareto_front_of_a_study_with_two_objectives(tmp_path: Path) -> None:
    from autoresearch.engine.loop import Loop
    from autoresearch.engine.study import Study
    from autoresearch.spec import load_spec
    from autoresearch.ui.dashboard.pages import study_page
    from autoresearch.ui.dashboard.study_view import StudyView
    from tests.conftest import TRADE, trade_spec

    root = write_study(tmp_path, trade_spec(10), {"trade.py": TRADE})
    Loop(load_spec(root)).run()
    study = Study.open(root)
    expected = study.front()
    assert expected is not None
    view = StudyView(study.spec.study_dir, "trade")
    try:
        state = json.loads(view.state()[1])
    finally:
        view.close()
        study.store.close()
    assert state["objectives"] == ["time_ms", "accuracy"]
    assert [m["id"] for m in state["front"]] == [e.id for e in expected.members]
    assert [m["values"] for m in state["front"]] == [
        list(e.point(["time_ms", "accuracy"]) or ()) for e in expected.members
    ]
    assert state["hypervolume"] == pytest.approx(expected.hypervolume)
    assert "Pareto front" in study_page("trade")  # the page shows it where one best is shown
