"""The plug point reads real package metadata: a package outside this repository adds a plugin by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.core import plugins
from tests.outside import install, on_path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    with on_path(tmp_path):
        yield tmp_path


def test_a_package_outside_the_repository_adds_an_executor(site: Path) -> None:
    install(
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
    install(site, "outside_a", "[autoresearch.executors]\npbs = x:y\nlsf = x:z\n")
    with pytest.raises(plugins.UnknownPlugin) as caught:
        plugins.check("executors", "pbz")
    message = str(caught.value)
    assert message.startswith("unknown executor 'pbz' (did you mean 'pbs'?); registered:")
    assert "pbs" in message and "lsf" in message


def test_two_packages_claiming_one_name_is_an_error_naming_both(site: Path) -> None:
    install(site, "outside_one", "[autoresearch.policies]\nbeam = one.beam:Beam\n")
    install(site, "outside_two", "[autoresearch.policies]\nbeam = two.beam:Beam\n")
    with pytest.raises(plugins.PluginConflict, match=r"one\.beam:Beam and two\.beam:Beam|two\.beam:Beam and one"):
        plugins.names("policies")


def test_a_proposer_kind_is_a_descriptor_read_without_building_anything(site: Path) -> None:
    install(
        site,
        "outside_fixed",
        "[autoresearch.proposers]\nfixed = outside_fixed_kind:FIXED\nbroken = outside_fixed_kind:Fixed\n",
        "outside_fixed_kind",
        "from autoresearch.core.plugins import ProposerKind\n"
        "class Fixed:\n    pass\n"
        "FIXED = ProposerKind(lambda spec, argument, history: Fixed(), argument=True)\n",
    )
    name, kind, argument = plugins.proposer_kind("fixed:0.25")
    assert (name, argument) == ("fixed", "0.25") and kind.written(name) == "fixed:<argument>"  # the default usage
    with pytest.raises(plugins.UnknownProposer, match=r"proposer 'fixed' is incomplete; write fixed:<argument>"):
        plugins.proposer_kind("fixed")
    with pytest.raises(plugins.UnknownProposer) as caught:
        plugins.proposer_kind("fixd:1")
    assert str(caught.value).startswith("unknown proposer 'fixd:1' (did you mean 'fixed'?); registered: ")
    assert "fixed:<argument>" in str(caught.value) and "llm:<provider>/<model>" in str(caught.value)
    with pytest.raises(plugins.NotAPlugin, match=r"'broken' is registered as outside_fixed_kind:Fixed, which is not"):
        plugins.proposer_kind("broken")
