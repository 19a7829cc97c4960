"""examples/plugin: a package outside this repository adds a proposer kind, a search policy and an LLM
provider, each one file plus one entry point. pip builds and installs it (setuptools writes its entry
points, as for any user's package) into a folder of its own, and real studies use all three through the
real command line; without that folder on the path the names are unknown."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, study_rows
from tests.fake_llm import FakeLLMServer, Request
from tests.test_examples import EXAMPLES, tracked_copy

DOCS = Path(__file__).parent.parent / "docs" / "extending.md"
PLUGIN_FILES = ("grid.py", "restarts.py", "mycloud.py")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/plugin, pip-installed into a folder that is on no path until a test puts it there."""
    folder = tmp_path_factory.mktemp("plugin")
    source = tracked_copy("plugin", folder / "source")
    target = folder / "site"
    install = [PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run([*install, "--target", str(target), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (target / "autoresearch_plugin_example" / "grid.py").is_file()
    return target


def with_plugin(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def study(tmp_path: Path, name: str = "study") -> Path:
    return tracked_copy("plugin", tmp_path / name) / "study"


def set_budget(root: Path, experiments: int) -> None:
    spec = root / "autoresearch.toml"
    spec.write_text(re.sub(r"experiments = \d+", f"experiments = {experiments}", spec.read_text()))


def grid(n: int) -> list[dict[str, float]]:
    """The grid the proposer walks, computed here independently: x outer, y inner, -5 to 5."""
    values = [-5.0 + 10.0 * i / (n - 1) for i in range(n)]
    return [{"x": x, "y": y} for x in values for y in values]


def test_a_study_runs_with_the_outside_proposer_and_policy_and_resumes_where_it_stopped(
    tmp_path: Path, site: Path
) -> None:
    root = study(tmp_path)
    set_budget(root, 6)
    first = cli("run", str(root), env_extra=with_plugin(site), timeout=300)
    assert first.returncode == 0, first.stderr
    assert "proposer grid:5" in first.stdout
    set_budget(root, 10)  # raised: the study resumes
    second = cli("run", str(root), env_extra=with_plugin(site), timeout=300)
    assert second.returncode == 0, second.stderr

    rows = study_rows(root / ".autoresearch" / "bowl")
    baseline, candidates = rows[0], rows[1:]
    assert baseline.decision == "baseline" and len(candidates) == 9
    # The grid proposer: its name on every row, its points in order, none twice across the resume.
    assert {(e.proposer, e.strategy) for e in candidates} == {("grid:5", "grid")}
    assert [e.params for e in candidates] == grid(5)[:9]
    assert all(e.decision in ("kept", "reverted") and e.objective is not None for e in candidates)
    # The policy: every third candidate it chose for starts from the baseline, counted across the resume
    # (its state was restored: a fresh count would have restarted at the 8th, not the 6th and 9th).
    restarts = [number for number, e in enumerate(candidates, 1) if e.extra["search"].get("restart")]
    assert restarts == [3, 6, 9]
    for number, e in enumerate(candidates, 1):
        assert e.extra["search"]["task"] == ("draft" if number in restarts else "improve")
        if number in restarts:
            assert e.parent_id == baseline.id
    store = Store(root / ".autoresearch" / "bowl", create=False)
    try:
        assert store.get_meta("search_policy") == "restarts"
    finally:
        store.close()


def test_the_names_come_from_the_installed_package(tmp_path: Path, site: Path) -> None:
    root = study(tmp_path)
    without = cli("run", str(root), timeout=120)
    assert without.returncode == 2
    assert "unknown proposer 'grid:5'" in without.stderr and "grid:<n>" not in without.stderr

    spec = root / "autoresearch.toml"
    written = spec.read_text()
    spec.write_text(written.replace('use = "grid:5"', 'use = "gird:5"'))
    typo = cli("run", str(root), env_extra=with_plugin(site), timeout=120)
    assert typo.returncode == 2
    assert "unknown proposer 'gird:5' (did you mean 'grid'?); registered: " in typo.stderr
    assert "grid:<n>" in typo.stderr and "tpe" in typo.stderr  # the package's kinds beside this project's

    spec.write_text(written.replace('use = "grid:5"', 'use = "grid:1"'))
    checked = cli("run", str(root), env_extra=with_plugin(site), timeout=120)
    assert checked.returncode == 2 and "write grid:<n> with n >= 2 values per parameter" in checked.stderr

    spec.write_text(written.replace('policy = "restarts"', 'policy = "restart"'))
    policy = cli("run", str(root), env_extra=with_plugin(site), timeout=120)
    assert policy.returncode == 2
    assert "unknown search policy 'restart' (did you mean 'restarts'?); registered: " in policy.stderr

    spec.write_text(written.replace("every = 3", 'every = "often"'))
    option = cli("run", str(root), env_extra=with_plugin(site), timeout=120)
    assert option.returncode == 2 and "search.options.every = 'often'" in option.stderr
    assert not (root / ".autoresearch" / "bowl" / "study.db").exists() or not study_rows(
        root / ".autoresearch" / "bowl"
    )  # nothing ran on a bad spec


def test_the_outside_llm_provider_brings_its_key(tmp_path: Path, site: Path, fake_llm: FakeLLMServer) -> None:
    def answer(request: Request) -> str:
        turn = len(fake_llm.requests)
        return json.dumps({"rationale": "toward the floor", "params": {"x": 1.0 - 0.5 / turn, "y": -2.0}})

    fake_llm.responder = answer
    root = study(tmp_path)
    spec = root / "autoresearch.toml"
    options = f'options = {{ base_url = "{fake_llm.openai_url}", lessons_every = 0, retries = 0 }}'
    spec.write_text(spec.read_text().replace('use = "grid:5"', f'use = "llm:mycloud/model-7"\n{options}'))
    set_budget(root, 3)
    result = cli("run", str(root), env_extra={**with_plugin(site), "MYCLOUD_API_KEY": "mc-key-4242"}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(fake_llm.requests) == 2
    # Its key variable is the provider's own: an unregistered provider at a base_url sends none.
    assert {r.headers["authorization"] for r in fake_llm.requests} == {"Bearer mc-key-4242"}
    assert {r.body["model"] for r in fake_llm.requests} == {"model-7"}
    rows = study_rows(root / ".autoresearch" / "bowl")
    assert [e.proposer for e in rows[1:]] == ["llm:mycloud/model-7"] * 2
    assert [e.params for e in rows[1:]] == [{"x": 0.5, "y": -2.0}, {"x": 0.75, "y": -2.0}]

    spec = study(tmp_path, "keyless") / "autoresearch.toml"
    spec.write_text(spec.read_text().replace('use = "grid:5"', 'use = "llm:mycloud/model-7"'))
    missing = cli("run", str(spec.parent), env_extra=with_plugin(site), timeout=120)
    assert missing.returncode == 1 and "llm:mycloud needs an API key: set the environment variable MYCLOUD_API_KEY" in (
        missing.stderr
    )


def test_docs_extending_shows_the_example_files_as_they_are() -> None:
    """docs/extending.md's examples are these files, so what it shows is what this test ran."""
    doc = DOCS.read_text()
    package = EXAMPLES / "plugin"
    for name in PLUGIN_FILES:
        assert (package / "autoresearch_plugin_example" / name).read_text().strip() in doc, name
    for line in (package / "pyproject.toml").read_text().splitlines():
        if line.startswith(("[project.entry-points", "grid =", "restarts =", "mycloud =")):
            assert line in doc, line
