"""Fixtures for the report and dashboard tests: synthetic studies written through the real Store, and a live writer.

The live writer is pluggable: `live_study` yields a study folder that something keeps adding
experiments to while the test runs. Today that is a thread driving `SyntheticWriter` on its own
Store connection; to test against the real loop, override the `study_writer` fixture (in a conftest
closer to the test, or here) with one that starts `autoresearch run` as a subprocess on a spec whose
study folder is returned, and stops it in its finaliser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autoresearch.spec import Spec, spec_from_dict
from autoresearch.store.database import Store
from tests.support.synthetic import SyntheticWriter, make_study, synthetic_spec_dict


@dataclass
class LiveStudy:
    study_dir: Path
    direction: str
    stop: Callable[[], None]


# A writer factory: given a fresh project root, start writing a study there and return a LiveStudy.
StudyWriter = Callable[[Path], LiveStudy]


def make_spec(root: Path, *, mode: str = "params", direction: str = "minimize", name: str = "synthetic") -> Spec:
    return spec_from_dict(synthetic_spec_dict(name, mode=mode, direction=direction), root=root)


@pytest.fixture
def spec_params(tmp_path: Path) -> Spec:
    return make_spec(tmp_path)


@pytest.fixture
def study_300(spec_params: Spec) -> Store:
    """Params mode, 300 experiments, the holdout starts to diverge after 2 kept changes."""
    return make_study(spec_params.study_dir, 300, seed=1, diverge_after=2)


@pytest.fixture
def study_writer() -> StudyWriter:
    """Default writer: a thread appending a synthetic experiment every 0.2 s through its own Store."""

    def start(root: Path) -> LiveStudy:
        spec = make_spec(root, mode="code", name="live")
        seed_store = make_study(spec.study_dir, 20, mode="code", seed=2)
        seed_store.close()
        stop_event = threading.Event()

        def write() -> None:
            store = Store(spec.study_dir)  # a separate connection, as a separate process would have
            writer = SyntheticWriter(store, mode="code", seed=3, start_time=time.time())
            writer.best, writer.best_id = 0.31, 1
            while not stop_event.is_set():
                writer.step()
                stop_event.wait(0.2)
            store.close()

        thread = threading.Thread(target=write, daemon=True)
        thread.start()

        def stop() -> None:
            stop_event.set()
            thread.join(10)

        return LiveStudy(spec.study_dir, "minimize", stop)

    return start


@pytest.fixture
def live_study(tmp_path: Path, study_writer: StudyWriter) -> Iterator[LiveStudy]:
    live = study_writer(tmp_path)
    try:
        yield live
    finally:
        live.stop()


CHROMIUM = "/usr/bin/chromium"


@dataclass
class Browser:
    """Pages of one headless Chromium whose console errors and uncaught exceptions fail the test."""

    new_page: Callable[[], Any]
    errors: list[str]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Real headless Chromium through Playwright; at teardown, asserts that no page logged a console
    error (a failed request, a script that did not parse) or threw an uncaught exception."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])

        def new_page() -> Any:
            page = chromium.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            return page

        try:
            yield Browser(new_page, errors)
        finally:
            chromium.close()
    assert errors == [], "the browser reported errors:\n" + "\n".join(errors)
