"""Hacks on the machine: the network, processes that outlive the run, filling the disk, writing outside."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import PYTHON, cli
from tests.redteam.conftest import params_study, run
from tests.redteam.scenarios import loopback_server


def dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is dead for our purposes
        return handle.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_open_a_network_connection_when_the_network_is_off(tmp_path: Path) -> None:
    with loopback_server(b"0.0\n") as (port, connections):  # the answer a cheating candidate would fetch
        experiment = f"""
import socket, sys
if int(sys.argv[1]) == 0:
    print("loss: 1.0")
else:
    with socket.create_connection(("127.0.0.1", {port}), timeout=5) as conn:
        print("loss:", conn.recv(100).decode().strip())
"""
        root = params_study(
            tmp_path / "s",
            f"{PYTHON} exp.py {{cheat}}",
            [{"params": {"cheat": 1}}],
            extra="[sandbox]\nnetwork = false",
            files={"exp.py": experiment},
        )
        experiments = run(root)
    assert experiments[1].decision == "failed"
    assert not connections  # even the host's loopback is out of reach
    stderr = (Path(experiments[1].log_dir or "") / "stderr.log").read_text()
    assert "ConnectionRefusedError" in stderr or "Network is unreachable" in stderr


ESCAPE = """
import os, subprocess, sys, time
cheat = int(sys.argv[1])
if cheat:
    # A new session: the process-group kill at the end of the run does not reach it.
    child = subprocess.Popen(["setsid", "sleep", "300"], start_new_session=True)
    open(f"escaped-{cheat}.pid", "w").write(str(child.pid))
    if cheat == 1:
        time.sleep(60)  # and outlive the timeout
print("loss:", 1.0 + cheat)
"""


def test_fork_a_process_that_outlives_the_run(tmp_path: Path) -> None:
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}, {"params": {"cheat": 2}}],
        files={"exp.py": ESCAPE},
        extra='[sandbox]\nkind = "none"',  # the subreaper's case; under bwrap see tests/redteam/test_isolation.py
    )
    toml = root / "autoresearch.toml"
    toml.write_text(toml.read_text().replace('timeout = "20s"', 'timeout = "2s"\nkill_grace = "1s"'))
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "failed", "reverted"]
    assert "timed out" in (experiments[1].reason or "")
    for cheat in (1, 2):
        pid = int((root / f"escaped-{cheat}.pid").read_text())
        assert dead(pid), f"the escaped sleep {pid} outlived its experiment"


def test_fill_the_disk(tmp_path: Path) -> None:
    experiment = """
import sys
cheat = int(sys.argv[1])
if cheat == 1:
    with open("huge.bin", "wb") as out:
        for _ in range(100):
            out.write(b"x" * 1_000_000)
elif cheat == 2:
    for _ in range(30):
        sys.stdout.write("y" * 1_000_000 + "\\n")
print("loss:", {0: 1.0, 1: 0.0, 2: 5.0, 3: 0.5}[cheat])
"""
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}, {"params": {"cheat": 2}}, {"params": {"cheat": 3}}],
        extra='[sandbox]\nfile_size = "5MB"',
        files={"exp.py": experiment},
    )
    toml = root / "autoresearch.toml"
    toml.write_text(toml.read_text().replace('timeout = "20s"', 'timeout = "20s"\nmax_log_size = "1MB"'))
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "failed", "failed", "kept"]  # the study went on
    # The flood went past the log cap, which may have cut a metric line: unreadable, not a poor value.
    assert "metric unreadable" in (experiments[2].reason or "")
    assert (root / "huge.bin").stat().st_size <= 5_000_000
    assert (Path(experiments[2].log_dir or "") / "stdout.log").stat().st_size < 1_100_000


def test_burn_cpu_past_the_cpu_limit(tmp_path: Path) -> None:
    experiment = "import sys\nif int(sys.argv[1]):\n    while True:\n        pass\nprint('loss: 1')\n"
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra='[sandbox]\ncpu_time = "1s"',
        files={"exp.py": experiment},
    )
    start = time.monotonic()
    experiments = run(root)
    assert experiments[1].decision == "failed" and "timed out" not in (experiments[1].reason or "")
    assert time.monotonic() - start < 15  # killed by the CPU limit, well before the 20 s timeout


def test_write_outside_the_sandbox(tmp_path: Path) -> None:
    experiment = """
import sys
wrote = []
if int(sys.argv[1]):
    for path in ("../outside.txt", "evaluate_data.txt", ".autoresearch/rt/study.db", "autoresearch.toml"):
        try:
            with open(path, "a") as handle:
                handle.write("hacked")
            wrote.append(path)
        except OSError:
            pass
    open("scratch.txt", "w").write("the run's own folder stays writable")
print("wrote:", wrote, file=sys.stderr)  # ../ lands in the sandbox's private /tmp when under /tmp
print("loss:", 2.0)
"""
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra='[sandbox]\nkind = "bwrap"\n[integrity]\nprotected = ["evaluate_data.txt"]',
        files={"exp.py": experiment, "evaluate_data.txt": "1 2 3\n"},
    )
    before = (root / "autoresearch.toml").read_text()
    experiments = run(root)
    assert experiments[1].decision == "reverted", experiments[1].reason
    assert not (tmp_path / "outside.txt").exists()
    # .autoresearch/ is an empty tmpfs in the sandbox: a write there lands in it, never in the store.
    assert b"hacked" not in (root / ".autoresearch" / "rt" / "study.db").read_bytes()
    assert (root / "evaluate_data.txt").read_text() == "1 2 3\n"
    assert (root / "autoresearch.toml").read_text() == before
    assert (root / "scratch.txt").exists()


def test_process_limit_is_reported_as_not_enforced_for_root(tmp_path: Path) -> None:
    # Linux does not apply RLIMIT_NPROC to root; the study says so instead of pretending.
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": 1}}],
        extra="[sandbox]\nprocesses = 50",
        files={"exp.py": "import sys\nprint('loss:', 1 + int(sys.argv[1]))\n"},
    )
    result = cli("run", str(root))
    assert result.returncode == 0, result.stderr
    if os.geteuid() == 0:
        assert "sandbox.processes is not enforced" in result.stderr
    else:
        assert "sandbox.processes" not in result.stderr
