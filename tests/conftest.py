"""Shared helpers: write a study to a temporary folder and run the real CLI on it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store
from tests.fake_llm import FakeLLMServer

PYTHON = sys.executable

# An experiment script: reads params.json (argv[1]) and prints the loss of a quadratic bowl.
BOWL = """
import json, sys
p = json.load(open(sys.argv[1]))
print("loss:", (p["x"] - 1.0) ** 2 + (p["y"] + 2.0) ** 2)
"""


def write_study(root: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "autoresearch.toml").write_text(textwrap.dedent(spec))
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def bowl_spec(budget: int = 10, proposer: str = "tpe", extra: str = "") -> str:
    return f"""
    [study]
    name = "bowl"
    [run]
    command = "{PYTHON} bowl.py {{params_file}}"
    timeout = "30s"
    [metric]
    name = "loss"
    [params]
    x = {{ low = -5.0, high = 5.0 }}
    y = {{ low = -5.0, high = 5.0 }}
    [proposer]
    use = "{proposer}"
    [budget]
    experiments = {budget}
    {extra}
    """


# Two objectives that trade: a larger x is slower and more accurate; a larger y only costs time.
TRADE = """
import json, sys
p = json.load(open(sys.argv[1]))
print("time_ms:", 1.0 + 9.0 * p["x"] + 3.0 * p["y"])
print("accuracy:", 1.0 - (1.0 - p["x"]) ** 2)
"""


def trade_spec(budget: int = 12, proposer: str = "random", extra: str = "") -> str:
    """A study of TRADE (time_ms down, accuracy up): its front is every x at y = 0."""
    return f"""
    [study]
    name = "trade"
    [run]
    command = "{PYTHON} trade.py {{params_file}}"
    timeout = "30s"
    [metric]
    objectives = {{ time_ms = "minimize", accuracy = "maximize" }}
    [params]
    x = {{ low = 0.0, high = 1.0, default = 0.5 }}
    y = {{ low = 0.0, high = 1.0, default = 0.5 }}
    [proposer]
    use = "{proposer}"
    [budget]
    experiments = {budget}
    {extra}
    """


def cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    env_extra: dict[str, str] | None = None,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    """Run the real `autoresearch` command line in a subprocess, as a pipe sees it (no terminal width:
    output meant for files must not depend on one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | (env_extra or {})
    return subprocess.run(
        [PYTHON, "-m", "autoresearch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120.0) -> object:
    """Poll CONDITION until it returns something truthy (an event: a store row, a line of output).

    The deadline is generous on purpose: it only bounds a test that is already failing, so a slow or
    loaded machine never turns a correct run into a failure.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def study_rows(study_dir: Path) -> list[Experiment]:
    """The study's experiments, or [] while its store does not exist yet (safe while `run` writes)."""
    if not (study_dir / "study.db").exists():
        return []
    store = Store(study_dir, create=False)
    try:
        return store.experiments()
    finally:
        store.close()


@pytest.fixture
def bowl_study(tmp_path: Path) -> Path:
    return write_study(tmp_path / "bowl", bowl_spec(), {"bowl.py": BOWL})


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A real HTTP server speaking the OpenAI and Anthropic chat protocols (see tests/fake_llm.py)."""
    server = FakeLLMServer()
    yield server
    server.close()


TESTS = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked local_llm run SmolLM2 through llama-cpp-python: skipped where it is not installed
    (and so failed in CI). CI builds it while the other tests run, then runs these (`-m local_llm`).

    For pytest-xdist's `--dist loadgroup` (CI), which hands out one test at a time: the tests that share
    a module-scoped fixture (a Ray cluster, the quickstart README's whole run) form one group, so that
    it runs once; and the whole-study tests (the examples and docs at the top of tests/, the red-team
    attacks) come first, so that the workers end together on short tests instead of one running a long
    study while the others wait."""
    if importlib.util.find_spec("llama_cpp") is None:
        missing = pytest.mark.skip(reason="needs llama-cpp-python (pip install 'autoresearch[local]')")
        for item in items:
            if item.get_closest_marker("local_llm"):
                item.add_marker(missing)
    for item in items:
        if shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(TESTS).as_posix()))
    first = {TESTS: 0, TESTS / "redteam": 1}
    items.sort(key=lambda item: first.get(item.path.parent, 2))  # a stable sort: files keep their order


def pytest_configure(config: pytest.Config) -> None:
    """pytest 9.2's structured node ids silently undo pytest-xdist 3.8's `--dist loadgroup` (xdist issue
    1386): every group would be split across the workers, and a module's fixture (a Ray cluster, the
    quickstart's whole run) set up once per worker. Say so instead of running the suite that way."""
    if config.getoption("dist", default="no") != "loadgroup" or hasattr(config, "workerinput"):
        return
    xdist = importlib.metadata.version("pytest-xdist")
    if pytest.version_tuple[:2] >= (9, 2) and tuple(int(part) for part in xdist.split(".")[:2]) <= (3, 8):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {xdist} ignores "
            "--dist loadgroup's groups: install the test extra's pytest (pip install -e '.[test]')"
        )


def shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether ITEM uses a fixture of this suite that is set up once per module."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definition.scope == "module" and TESTS in Path(inspect.getfile(definition.func)).parents
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI (AUTORESEARCH_REQUIRE_ALL_TESTS=1) a skipped test is a failure: it would prove nothing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("AUTORESEARCH_REQUIRE_ALL_TESTS") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"
