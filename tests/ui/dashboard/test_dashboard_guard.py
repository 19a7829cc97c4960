"""The dashboard's guard: a secret on every request (loopback too), the Host header checked against
DNS rebinding, and no holdout value in any page or API answer, even to the token's holder."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.store.database import Store
from autoresearch.ui.dashboard.guard import HostCheck
from autoresearch.ui.dashboard.server import DashboardServer, serve

HOLDOUT_VALUE = "0.777123"


def _get(server: DashboardServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    port = server.server_address[1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def secret_study(tmp_path: Path) -> Iterator[Path]:
    """A study whose holdout value (0.777123, metric `test_acc`) also reached a run's metrics, its
    stdout, its extra and an LLM prompt: everywhere a dashboard might echo it from."""
    study_dir = tmp_path / ".autoresearch" / "sealed"
    store = Store(study_dir)
    store.set_meta("direction", "minimize")
    store.set_meta("spec_snapshot", json.dumps({"raw": {}, "normalised": {"holdout": {"metric": "test_acc"}}}))
    rows = [
        ("baseline", 1.0, {"test_acc": float(HOLDOUT_VALUE)}, {"loss": 1.0}),
        ("kept", 0.5, {"test_acc": 0.5}, {"loss": 0.5, "test_acc": float(HOLDOUT_VALUE)}),
        ("kept", 0.4, {"error": "holdout exited 1"}, {"loss": 0.4}),
        ("reverted", 0.9, None, {"loss": 0.9, "relayed_holdout": float(HOLDOUT_VALUE)}),
    ]
    for i, (decision, objective, holdout, metrics) in enumerate(rows):
        log_dir = study_dir / "logs" / str(i)
        log_dir.mkdir(parents=True)
        (log_dir / "stdout.log").write_text(f"epoch 1 loss {objective}\ntest_acc: {HOLDOUT_VALUE}\nloss: {objective}\n")
        (log_dir / "prompt.json").write_text(f"improve it\nthe holdout said {HOLDOUT_VALUE}\n")
        row = store.start_experiment(proposal={"params": {"x": i}}, log_dir=str(log_dir))
        extra = {"feedback": f"ok\nTEST_ACC={HOLDOUT_VALUE}", "series": {"test_acc": [float(HOLDOUT_VALUE)]}}
        store.finish_experiment(
            row.id, decision=decision, objective=objective, holdout=holdout, metrics=metrics, extra=extra
        )
    store.close()
    yield study_dir


def test_loopback_gets_a_per_process_secret(secret_study: Path) -> None:
    first, second = serve([secret_study]), serve([secret_study])
    try:
        assert first.token and first.token != second.token and len(first.token) >= 24
        assert first.url == f"http://127.0.0.1:{first.server_address[1]}/?token={first.token}"
        assert _get(first, "/api/sealed/state")[0] == 401  # loopback is no exemption
        assert _get(first, "/")[0] == 401
        assert _get(first, "/api/sealed/state", {"X-Autoresearch-Token": second.token})[0] == 401
        assert _get(first, f"/api/sealed/state?token={first.token}")[0] == 200
        assert _get(first, "/static/plotly.min.js")[0] == 200  # public code, no study data: no token needed
    finally:
        first.stop()
        second.stop()


def test_host_header_must_name_this_dashboard(secret_study: Path) -> None:
    server = serve([secret_study])
    port = server.server_address[1]
    token = {"X-Autoresearch-Token": server.token}
    try:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
            assert _get(server, "/api/sealed/state", token | {"Host": host})[0] == 200, host
        # DNS rebinding arrives under the attacker's name; a wrong port is another server's name.
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", f"127.0.0.1:{port + 1}"):
            status, body = _get(server, "/api/sealed/state", token | {"Host": host})
            assert status == 421 and "address it was started on" in body, host
        assert _get(server, "/static/plotly.min.js", {"Host": f"evil.example:{port}"})[0] == 421
    finally:
        server.stop()


def test_host_check_on_every_interface_takes_ip_literals_not_names() -> None:
    check = HostCheck("0.0.0.0", 8765)
    assert check.allows("192.0.2.7:8765") and check.allows("[2001:db8::1]:8765") and check.allows("localhost:8765")
    assert not check.allows("evil.example:8765") and not check.allows("192.0.2.7:9999")
    assert not check.allows(None) and not check.allows("[::1:8765") and not check.allows("host:port")
    bound = HostCheck("192.0.2.7", 8765)
    assert bound.allows("192.0.2.7:8765") and not bound.allows("192.0.2.8:8765")


def _every_answer(server: DashboardServer) -> dict[str, str]:
    """Every page and API answer the dashboard serves for the study, fetched with the token."""
    token = {"X-Autoresearch-Token": server.token}
    paths = ["/", "/api/studies", "/api/sealed/state", "/api/sealed/lineage", "/study/sealed"]
    paths += [f"/api/sealed/experiments?limit=500&sort={key}" for key in ("id", "objective")]
    paths += [f"/api/sealed/experiment/{i}" for i in range(1, 5)]
    paths += [f"/study/sealed/experiment/{i}" for i in range(1, 5)]
    answers = {}
    for path in paths:
        status, body = _get(server, path, token)
        assert status == 200, (path, status, body[:200])
        answers[path] = body
    return answers


def test_no_holdout_value_in_any_answer(secret_study: Path) -> None:
    server = serve([secret_study])
    try:
        answers = _every_answer(server)
    finally:
        server.stop()
    leaks = [path for path, body in answers.items() if HOLDOUT_VALUE in body or re.search(r"0\.7771", body)]
    assert leaks == []
    # What remains: that a holdout exists and its verdict, and the rest of each row.
    state = json.loads(answers["/api/sealed/state"])
    assert state["holdout"] == 3 and state["total"] == 4
    verdicts = [json.loads(answers[f"/api/sealed/experiment/{i}"])["holdout"] for i in range(1, 5)]
    assert verdicts == ["evaluated", "evaluated", "failed", None]
    second = json.loads(answers["/api/sealed/experiment/2"])
    assert second["metrics"] == {"loss": 0.5} and "epoch 1 loss 0.5" in second["logs"]["tails"]["stdout.log"]
    assert second["extra"] == {"feedback": "ok", "series": {}}
    assert "improve it" in second["logs"]["llm"]["prompt.json"]
    rows = json.loads(answers["/api/sealed/experiments?limit=500&sort=id"])["rows"]
    assert [r["holdout"] for r in rows] == [None, "failed", "evaluated", "evaluated"]  # newest first
    assert "evaluated (values are never shown here)" in answers["/study/sealed/experiment/1"]


def test_a_holdout_metric_first_recorded_while_serving_is_scrubbed(tmp_path: Path) -> None:
    # No spec snapshot names it: the dashboard learns the holdout's metric from results written after it started.
    study_dir = tmp_path / ".autoresearch" / "late"
    store = Store(study_dir)
    row = store.start_experiment(proposal={})
    store.finish_experiment(row.id, decision="baseline", objective=1.0, metrics={"loss": 1.0})
    server = serve([study_dir])
    try:
        assert json.loads(_get(server, "/api/late/state", {"X-Autoresearch-Token": server.token})[1])["holdout"] == 0
        store.update(row.id, holdout={"late_acc": float(HOLDOUT_VALUE)})  # written after the row finished
        relay = store.start_experiment(proposal={})
        store.finish_experiment(
            relay.id, decision="reverted", objective=2.0, metrics={"late_acc": float(HOLDOUT_VALUE)}
        )
        answers = _every_answer_of(server, "late", [row.id, relay.id])
    finally:
        server.stop()
        store.close()
    assert [path for path, body in answers.items() if HOLDOUT_VALUE in body] == []
    assert json.loads(answers[f"/api/late/experiment/{relay.id}"])["metrics"] == {}


def _every_answer_of(server: DashboardServer, study: str, ids: list[int]) -> dict[str, str]:
    token = {"X-Autoresearch-Token": server.token}
    paths = [f"/api/{study}/state", f"/api/{study}/experiments?limit=500", f"/study/{study}"]
    paths += [f"/api/{study}/experiment/{i}" for i in ids] + [f"/study/{study}/experiment/{i}" for i in ids]
    return {path: _get(server, path, token)[1] for path in paths}
