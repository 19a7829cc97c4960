"""The plug point reads real package metadata: a package outside this repository adds a plugin by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.core import plugins


def _install(site: Path, dist: str, entry_points: str, module: str = "", source: str = "") -> None:
    """A distribution as pip leaves it: a dist-info folder with METADATA and entry_points.txt."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (site / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.registered.cache_clear()
    yield tmp_path
    plugins.registered.cache_clear()
    for name in [m for m in sys.modules if m.startswith("outside_")]:
        del sys.modules[name]


def test_a_package_outside_the_repository_adds_an_executor(site: Path) -> None:
    _install(
        site,
        "outside_pbs",
        "[autoresearch.executors]\npbs = outside_pbs_module:PBSExecutor\n",
        "outside_pbs_module",
        "class PBSExecutor:\n    name = 'pbs'\n",
    )
    assert "pbs" in plugins.names("executors")
    assert "outside_pbs_module" not in sys.modules  # listing names imports nothing
    loaded = plugins.load("executors", "pbs")
    assert loaded.__name__ == "PBSExecutor" and loaded.name == "pbs"


def test_an_unknown_name_lists_what_is_registered_with_the_closest(site: Path) -> None:
    _install(site, "outside_a", "[autoresearch.executors]\npbs = x:y\nlsf = x:z\n")
    with pytest.raises(plugins.UnknownPlugin) as caught:
        plugins.check("executors", "pbz")
    message = str(caught.value)
    assert message.startswith("unknown executor 'pbz' (did you mean 'pbs'?); registered:")
    assert "pbs" in message and "lsf" in message


def test_two_packages_claiming_one_name_is_an_error_naming_both(site: Path) -> None:
    _install(site, "outside_one", "[autoresearch.policies]\nbeam = one.beam:Beam\n")
    _install(site, "outside_two", "[autoresearch.policies]\nbeam = two.beam:Beam\n")
    with pytest.raises(plugins.PluginConflict, match=r"one\.beam:Beam and two\.beam:Beam|two\.beam:Beam and one"):
        plugins.names("policies")
