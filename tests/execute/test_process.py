from __future__ import annotations

import os
import time
from pathlib import Path

from autoresearch.execute.process import experiment_env, run_command
from tests.conftest import wait_for


def run(tmp_path: Path, command: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return run_command(
        command,
        cwd=tmp_path,
        env=dict(os.environ),
        stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
        **{"timeout": 30, **kwargs},
    )  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_output_goes_to_logs(tmp_path: Path) -> None:
    result = run(tmp_path, "echo hello; echo oops >&2; exit 3")
    assert result.exit_code == 3 and not result.timed_out and not result.succeeded
    assert (tmp_path / "out.log").read_text() == "hello\n"
    assert (tmp_path / "err.log").read_text() == "oops\n"


def test_timeout_kills_the_whole_group_including_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    start = time.monotonic()
    result = run(tmp_path, f"sh -c 'sleep 300 & echo $! > {pidfile}; wait' ; sleep 300", timeout=1.0, kill_grace=1.0)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - start < 60  # far below the 300 s sleep; generous under load
    assert not alive(int(pidfile.read_text()))


def test_term_ignoring_process_is_killed_after_grace(tmp_path: Path) -> None:
    start = time.monotonic()
    result = run(tmp_path, "trap '' TERM; sleep 300", timeout=0.5, kill_grace=0.5)
    assert result.timed_out and time.monotonic() - start < 60  # far below the 300 s sleep; generous under load


def test_background_job_left_behind_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    result = run(tmp_path, f"sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}")
    assert result.exit_code == 0
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), f"the background job {pid} to be killed", timeout=60)


def test_flooding_output_is_capped_and_tail_kept(tmp_path: Path) -> None:
    command = "python3 -c \"import sys\nfor i in range(200000): print('line', i)\nprint('loss: 0.5')\""
    result = run(tmp_path, command, max_log_bytes=300_000)
    text = (tmp_path / "out.log").read_text()
    assert result.truncated and result.exit_code == 0
    assert (tmp_path / "out.log").stat().st_size < 320_000
    assert "autoresearch dropped" in text and text.rstrip().endswith("loss: 0.5")


def test_missing_command_is_a_clean_failure(tmp_path: Path) -> None:
    result = run(tmp_path, "no-such-command-xyz --flag")
    assert result.exit_code == 127 and "not found" in (tmp_path / "err.log").read_text()
    result = run_command(
        ["/no/such/binary"], cwd=tmp_path, env={}, timeout=5, stdout_path=tmp_path / "o", stderr_path=tmp_path / "e"
    )
    assert result.error is not None and "could not start" in result.error


def test_only_allowlisted_variables_pass_unless_listed() -> None:
    base = {
        "OPENAI_API_KEY": "sk-1",
        "SECRET_KEY": "django",
        "PGPASSWORD": "pg",
        "DATABASE_URL": "postgres://u:p@h/db",
        "AWS_KEY_2": "k2",
        "MY_APP_SETTING": "anything unknown",
        "LC_ALL": "C.UTF-8",
        "GITHUB_TOKEN": "t",
        "DB_PASSWORD": "p",
        "AWS_SECRET_ACCESS_KEY": "s",
        "WANDB_API_KEY": "w",
        "PATH": "/bin",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env = experiment_env(base, extra={"A": "1"}, allow=["WANDB_API_KEY"])
    passed = {"PATH": "/bin", "TOKENIZERS_PARALLELISM": "false", "LC_ALL": "C.UTF-8", "WANDB_API_KEY": "w", "A": "1"}
    assert env == passed
