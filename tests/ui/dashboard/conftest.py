"""The dashboard's browser tests use the report tests' headless Chromium (a fixture is seen only below
the conftest that defines it, and the report's lives in tests/ui/report/)."""

from tests.ui.report.conftest import browser

__all__ = ["browser"]
