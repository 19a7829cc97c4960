"""report writes every file it names; the dashboard refuses a public address without a token."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli


def test_report_and_dashboard_arguments(bowl_study: Path) -> None:
    assert cli("run", str(bowl_study)).returncode == 0
    report = cli("report", str(bowl_study))
    assert report.returncode == 0, report.stderr
    html = bowl_study / ".autoresearch" / "bowl" / "report" / "report.html"
    assert html.stat().st_size > 100_000 and (html.parent / "progress.png").exists()
    # It names every file it wrote, and wrote every file it names.
    written = sorted(html.parent.iterdir())
    assert sorted(report.stdout.splitlines()) == sorted(f"wrote {file}" for file in written), report.stdout
    assert {file.name for file in written} == {"report.html", "report.md", "progress.png", "lineage.png"}
    refused = cli("dashboard", "--host", "0.0.0.0", str(bowl_study))
    assert refused.returncode == 1 and "token" in refused.stderr
