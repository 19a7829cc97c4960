"""`autoresearch sandbox`: the view each process of a study gets, and a command run in it (real bwrap)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import PYTHON
from tests.execute.test_diagnose import add_lines, library_study, make_venv


def sandbox(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "autoresearch", "sandbox", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or dict(os.environ),
    )


def study_with_holdout(tmp_path: Path) -> Path:
    python = make_venv(tmp_path / "venv")
    extra = (
        f'[[guard]]\nname = "tests"\ncommand = "{python} -m pytest -q tests"\n'
        f'[holdout]\ncommand = "{PYTHON} -c pass"\nmetric = "score"\ndata = ["secret"]'
    )
    root = library_study(tmp_path / "lib", "print('loss: 1')\n", extra=extra)
    (root / "secret").mkdir()
    (root / "secret" / "answers.txt").write_text("42\n")
    return root


def test_the_view_names_what_each_process_reads_writes_and_cannot_see(tmp_path: Path) -> None:
    root = study_with_holdout(tmp_path)
    env = {**os.environ, "MYLIB_TOKEN": "t"}
    shown = sandbox(str(root), cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith('study lib: sandbox bwrap (kind "auto")')
    experiment, holdout = text.split("\nholdout:\n")[0], text.split("\nholdout:\n")[1].split("\n\n")[0]
    readable = next(line for line in experiment.splitlines() if line.startswith("  readable:"))
    assert readable.startswith("  readable:   everything your user can read, read-only; and ")
    assert str(tmp_path / "venv") in readable.split("; and ", 1)[1].split(", ")  # a venv in /tmp, named
    assert (
        f"{root / '.autoresearch'} (the study's folder" in experiment and f"{root / '.git'} (git's data)" in experiment
    )
    assert f"{root / 'secret'} (holdout.data (secret)" in experiment
    assert f"{root / 'secret'}" not in holdout  # shown to the holdout alone
    assert "network:    on" in experiment and "MYLIB_TOKEN" not in text
    assert "XDG_CACHE_HOME=/tmp/.cache" in experiment
    add_lines(root, "run", 'pass_env = ["MYLIB_TOKEN"]')
    add_lines(root, "sandbox", "network = false")
    again = sandbox(str(root), cwd=tmp_path, env=env).stdout
    assert "MYLIB_TOKEN" in again and "network:    off (sandbox.network = false)" in again


def test_a_command_runs_in_an_experiments_view(tmp_path: Path) -> None:
    root = study_with_holdout(tmp_path)
    # The guard as the spec has it works by hand; git's data is an empty folder; hidden data is gone.
    guard = sandbox(
        "--",
        str(tmp_path / "venv" / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
        cwd=root,
    )
    assert guard.returncode == 0 and "1 passed" in guard.stdout, guard.stdout + guard.stderr
    assert "running in" in guard.stderr
    listed = sandbox("--", "ls -A .git | wc -l", cwd=root)
    assert listed.returncode == 0 and listed.stdout.strip() == "0", listed.stdout + listed.stderr
    hidden = sandbox("--", f"cat {root / 'secret' / 'answers.txt'}", cwd=root)
    assert hidden.returncode != 0 and "42" not in hidden.stdout
    assert "the sandbox is the likely cause: it hides" in hidden.stderr and "holdout.data (secret)" in hidden.stderr
    holdout = sandbox("--as", "holdout", "--", f"cat {root / 'secret' / 'answers.txt'}", cwd=root)
    assert holdout.returncode == 0 and holdout.stdout.strip() == "42", holdout.stdout + holdout.stderr
    # The study's folder named before `--`, from elsewhere: the same view.
    named = sandbox(str(root), "--", "ls -A .git | wc -l", cwd=tmp_path)
    assert named.returncode == 0 and named.stdout.strip() == "0", named.stdout + named.stderr


def test_a_write_outside_the_runs_folders_names_sandbox_writable(tmp_path: Path) -> None:
    root = library_study(tmp_path / "lib", "print('loss: 1')\n")
    target = Path.home() / ".autoresearch-view-test"
    done = sandbox("--", f"mkdir {target}", cwd=root)
    assert done.returncode != 0 and not target.exists()
    assert 'sandbox.writable = ["~/.autoresearch-view-test"]' in done.stderr, done.stderr
    in_tmp = sandbox("--", "touch /tmp/scratch && echo ok", cwd=root)  # the private /tmp is writable
    assert in_tmp.returncode == 0 and in_tmp.stdout.strip() == "ok"


def test_readable_and_writable_on_a_hidden_place_are_refused(tmp_path: Path) -> None:
    root = library_study(tmp_path / "lib", "print('loss: 1')\n")
    add_lines(root, "sandbox", f'readable = ["{root / ".git"}"]')
    refused = subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1
    assert f"sandbox.readable: '{root / '.git'}' is inside {root / '.git'}" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    relative = root / "autoresearch.toml"
    relative.write_text(relative.read_text().replace(f'readable = ["{root / ".git"}"]', 'readable = ["data"]'))
    bad = subprocess.run([PYTHON, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "readable path 'data' must be absolute" in bad.stderr, bad.stderr
