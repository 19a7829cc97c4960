"""What the sandbox opens for tools by default, and that none of it opens a hidden place."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from autoresearch.execute import sandbox_defaults
from autoresearch.spec import load_spec
from tests.conftest import PYTHON
from tests.execute.test_diagnose import autoresearch, experiments, library_study

# The environment running these tests is named too (tests name its interpreter in their commands): it is
# among the named ones when it lives under /tmp, as a CI clone there does.
OWN = Path(sys.prefix).resolve()


def named(root: Path) -> tuple[Path, ...]:
    return tuple(p for p in sandbox_defaults.named_interpreters(load_spec(root)) if p != OWN)


def test_an_executable_named_inside_a_hidden_place_stays_hidden(tmp_path: Path) -> None:
    # The study's folder holds the store: an interpreter named there is not shown, and `run` stops
    # before the baseline saying it is hidden, with no line that would open it.
    root = library_study(tmp_path / "lib", "print('loss: 1.0')\n")
    tool = root / ".autoresearch" / "tools" / "measure"
    tool.parent.mkdir(parents=True)
    tool.write_text(f"#!/bin/sh\nexec {PYTHON} bench.py\n")
    tool.chmod(0o755)
    spec_file = root / "autoresearch.toml"
    spec_file.write_text(spec_file.read_text().replace(f'command = "{PYTHON} bench.py"', f'command = "{tool}"'))
    assert named(root) == ()
    stopped = autoresearch(root)
    assert stopped.returncode == 1
    assert "stopped before the baseline: run.command cannot start" in stopped.stdout, stopped.stdout + stopped.stderr
    assert (
        f"it hides {tool}: it is in the study's folder" in stopped.stdout and "no spec line opens it" in stopped.stdout
    )
    assert experiments(root) == []


def test_named_interpreters_are_their_environments_under_tmp(tmp_path: Path) -> None:
    from tests.execute.test_diagnose import make_venv

    python = make_venv(tmp_path / "env")
    guard = f'[[guard]]\nname = "t"\ncommand = "{python} -m pytest --basetemp={tmp_path / "bt"}"'
    root = library_study(tmp_path / "lib", "print('loss: 1.0')\n", extra=guard)
    (root / ".venv" / "bin").mkdir(parents=True)  # the study's own venv: shown too
    found = named(root)
    assert found == tuple(sorted({(tmp_path / "env").resolve(), (root / ".venv").resolve()}))
    # Outside /tmp everything is readable already: nothing more is bound ({python} is this venv).
    assert not any(Path(PYTHON).resolve().is_relative_to(f) for f in found)


def test_caches_follow_the_users_choice_then_writable_folders_then_a_per_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".cache" / "huggingface").mkdir(parents=True)  # downloaded models: kept in use
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # set and passed by default: the user's
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip"))  # set but not passed: a per-run folder
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    root = library_study(
        tmp_path / "lib",
        "print('loss: 1.0')\n",
        extra='[sandbox]\nwritable = ["~/.cache/torch"]',
        run='env = { MPLCONFIGDIR = "/srv/mpl" }',
    )
    env = sandbox_defaults.cache_env(load_spec(root))
    assert "XDG_CACHE_HOME" not in env and "MPLCONFIGDIR" not in env
    assert env["PIP_CACHE_DIR"] == "/tmp/.cache/pip"
    assert env["TORCH_HOME"] == str(home / ".cache" / "torch")
    assert env["HF_HOME"] == str(home / ".cache" / "huggingface")
    assert env["TRITON_CACHE_DIR"] == "/tmp/.cache/triton"
    assert os.environ["PIP_CACHE_DIR"] == str(tmp_path / "pip")


def test_a_program_right_in_tmp_is_shown_alone_and_tmp_stays_private(tmp_path: Path) -> None:
    # Showing its folder would be showing the host's whole /tmp, read-only, over the private one.
    name = f"autoresearch-test-{uuid.uuid4().hex[:8]}"
    script, marker = Path("/tmp") / f"{name}.sh", Path("/tmp") / f"{name}.marker"
    marker.write_text("the host's /tmp\n")
    script.write_text(
        f"#!/bin/sh\necho scratch > /tmp/{name}.scratch && echo loss: $(wc -c < /tmp/{name}.scratch)\n"
        f"test -e {marker} && echo seen: 1 || echo seen: 0\n"
    )
    script.chmod(0o755)
    try:
        root = library_study(tmp_path / "lib", "print('loss: 1.0')\n")
        spec_file = root / "autoresearch.toml"
        spec_file.write_text(spec_file.read_text().replace(f'command = "{PYTHON} bench.py"', f'command = "{script}"'))
        assert named(root) == (script,)
        done = autoresearch(root)
        assert done.returncode == 0, done.stdout + done.stderr
        # The private /tmp is writable and its own: the host's marker is not there, the scratch not here.
        assert experiments(root)[0].metrics == {"loss": 8.0, "seen": 0.0}
        assert not (Path("/tmp") / f"{name}.scratch").exists()
    finally:
        script.unlink()
        marker.unlink()


def test_readable_tmp_itself_is_refused(tmp_path: Path) -> None:
    root = library_study(tmp_path / "lib", "print('loss: 1.0')\n", extra='[sandbox]\nreadable = ["/tmp"]')
    refused = autoresearch(root)
    assert refused.returncode == 1 and "sandbox.readable: '/tmp' would replace the private /tmp" in refused.stderr
    assert experiments_or_none(root) is None


def experiments_or_none(root: Path) -> list[object] | None:
    """The study's experiments, or None when it never started (no store)."""
    return experiments(root) if (root / ".autoresearch" / "lib" / "study.db").exists() else None
