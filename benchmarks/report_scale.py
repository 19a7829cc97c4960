"""Report and dashboard at scale: a 10,000-experiment synthetic study.

Targets: `write_report` under 10 s; every dashboard page and API answer under 200 ms.
Baseline in the same run: reading the store's rows (`Store.experiments()`), the floor any report pays.

    PYTHONPATH=src python benchmarks/report_scale.py [N]
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the synthetic study

from tests.support.synthetic import SyntheticWriter, make_study, synthetic_spec_dict

from autoresearch.spec import Spec, spec_from_dict
from autoresearch.store.database import Store
from autoresearch.ui.dashboard.server import serve
from autoresearch.ui.report.html import write_report
from autoresearch.ui.report.summary import summarize_spec


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Median wall time of FN in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _getter(url: str) -> Callable[[str], Callable[[], bytes]]:
    """Requests to the dashboard at URL, carrying the token its URL holds (every request needs it)."""
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    token = dict(urllib.parse.parse_qsl(parts.query)).get("token", "")
    headers = {"X-Autoresearch-Token": token} if token else {}
    return lambda path: (
        lambda: urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=30).read()
    )


def dashboard_rows(spec: Spec, url: str | None = None) -> list[tuple[str, float, str]]:
    """Dashboard timings on SPEC's study: (measure, ms, target). Serves it unless URL is given."""
    server = serve([spec.study_dir]) if url is None else None
    get = _getter(url or (server.url if server else ""))
    name, n = spec.name, Store(spec.study_dir, create=False).count()
    rows = []
    try:
        rows.append(("dashboard: state API, cold (loads all rows)", timed(get(f"/api/{name}/state")), "< 200"))
        rows.append(("dashboard: state API, warm", timed(get(f"/api/{name}/state"), 20), "< 200"))
        gen = get(f"/api/{name}/state")().split(b'"generation":')[1]
        gen_value = gen.split(b",")[0].decode()
        rows.append(("dashboard: poll, unchanged", timed(get(f"/api/{name}/state?since={gen_value}"), 20), "< 200"))
        rows.append(("dashboard: study page (HTML)", timed(get("/"), 20), "< 200"))
        rows.append(("dashboard: table page, sort by id", timed(get(f"/api/{name}/experiments?limit=50"), 20), "< 200"))
        rows.append(
            (
                "dashboard: table page, sort by objective (cold)",
                timed(get(f"/api/{name}/experiments?limit=50&sort=objective&order=asc")),
                "< 200",
            )
        )
        rows.append(
            (
                "dashboard: table page, last page, filtered",
                timed(get(f"/api/{name}/experiments?limit=50&offset={int(n * 0.9)}&decision=reverted"), 5),
                "< 200",
            )
        )
        rows.append(("dashboard: experiment page", timed(get(f"/study/{name}/experiment/{n // 2}"), 20), "< 200"))
        rows.append(("dashboard: plotly.min.js (static)", timed(get("/static/plotly.min.js"), 5), ""))
    finally:
        if server is not None:
            server.stop()
    return rows


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    root = Path(tempfile.mkdtemp(prefix="report-scale-"))
    spec = spec_from_dict(synthetic_spec_dict("scale"), root=root)
    start = time.perf_counter()
    store = make_study(spec.study_dir, n, seed=0)
    build_s = time.perf_counter() - start
    rows: list[tuple[str, float, str]] = []

    read_ms = timed(lambda: Store(spec.study_dir, create=False).experiments(), repeats=3)
    rows.append(("baseline: read all rows (Store.experiments)", read_ms, ""))
    experiments = store.experiments()
    rows.append(("summary (incl. parameter importance)", timed(lambda: summarize_spec(spec, experiments)), ""))
    report_ms = timed(lambda: write_report(spec, store))
    html_mb = (spec.study_dir / "report" / "report.html").stat().st_size / 1e6
    rows.append((f"write_report (html {html_mb:.1f} MB + md + png)", report_ms, "< 10000"))

    server = serve([spec.study_dir])
    try:
        rows += dashboard_rows(spec, server.url)
        get = _getter(server.url)
        writer = SyntheticWriter(Store(spec.study_dir), seed=9, logs=False, start_time=time.time())
        writer.best, writer.best_id = 0.3, 1

        def write_then_poll() -> None:
            writer.step()
            get("/api/scale/state")()

        rows.append(("dashboard: new experiment then state (incremental)", timed(write_then_poll, 10), "< 200"))
    finally:
        server.stop()

    print(f"report_scale: {n} experiments, built in {build_s:.1f}s at {root}")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.platform()}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'ms':>9}  {'target ms':>9}  {'x baseline':>10}")
    for name, ms, target in rows:
        print(f"{name.ljust(width)}  {ms:9.1f}  {target:>9}  {ms / read_ms:10.2f}")


if __name__ == "__main__":
    main()
