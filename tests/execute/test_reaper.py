"""Every process of a run is gone when run_command / run_piped return, before any output is read."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from autoresearch.execute import reaper
from autoresearch.execute.process import run_command, run_piped


def _alive_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _run(tmp_path: Path, script: str) -> None:
    (tmp_path / "run.py").write_text(script)
    result = run_command(
        f"{sys.executable} run.py",
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=30,
        stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
    )
    assert result.exit_code == 0, (tmp_path / "err.log").read_text()


def test_a_fork_chain_in_new_sessions_is_gone_when_the_run_returns(tmp_path: Path) -> None:
    """Without the loop being a subreaper: the run's token in the environment finds every generation."""
    marker = f"m{uuid.uuid4().hex[:12]}"
    chain = "import os, time\nend = time.time() + 30\nwhile time.time() < end:\n    if os.fork():\n"
    chain += "        os._exit(0)\n    os.setsid()\n"
    script = "import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
    script += f"    os.execv(sys.executable, [sys.executable, '-c', {chain!r}, {marker!r}])\ntime.sleep(0.3)\n"
    assert not reaper.active()
    _run(tmp_path, script)
    assert _alive_with(marker) == []


def test_a_double_forked_daemon_without_the_token_is_gone_under_a_subreaper(tmp_path: Path) -> None:
    """It left the group and the session and dropped its environment: only re-parenting finds it."""
    marker = f"m{uuid.uuid4().hex[:12]}"
    script = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    script += f"        os.execve('/bin/sh', ['sh', '-c', 'sleep 300; : {marker}'], {{}})\n    os._exit(0)\n"
    script += "time.sleep(0.3)\n"
    with reaper.subreaper():
        _run(tmp_path, script)
    assert _alive_with(marker) == []


def test_a_helper_of_ours_started_during_a_run_survives_its_sweep(tmp_path: Path) -> None:
    """With several workers, another slot's git or proposer starts while a run goes on: a child of
    ours, in our session, is never taken for an escaped orphan of that run."""
    import subprocess
    import threading

    marker = f"m{uuid.uuid4().hex[:12]}"
    helper: list[subprocess.Popen[bytes]] = []
    starter = threading.Timer(0.2, lambda: helper.append(subprocess.Popen(["sh", "-c", f"sleep 5; : {marker}"])))
    with reaper.subreaper():
        starter.start()
        _run(tmp_path, "import time\ntime.sleep(0.8)\n")
        starter.join()
    try:
        assert helper and helper[0].poll() is None, "the sweep killed a helper of ours"
        assert _alive_with(marker) == [helper[0].pid]
    finally:
        for process in helper:
            process.kill()
            process.wait()


def test_a_background_step_never_writes_after_the_run(tmp_path: Path) -> None:
    """`a && b &` where b (in a new session) keeps rewriting a file: nothing changes it once run_command returned."""
    late = "import time\nwhile True:\n    open('metric.txt', 'w').write('late')\n    time.sleep(0.005)\n"
    (tmp_path / "late.py").write_text(late)
    script = "import subprocess\nopen('metric.txt', 'w').write('true')\n"
    script += f"subprocess.run(['sh', '-c', 'true && setsid {sys.executable} late.py &'])\n"
    script += "import time\ntime.sleep(0.2)\n"
    _run(tmp_path, script)
    (tmp_path / "metric.txt").write_text("read")
    time.sleep(0.3)
    assert (tmp_path / "metric.txt").read_text() == "read"


def test_run_piped_keeps_at_most_its_cap_and_says_so(tmp_path: Path) -> None:
    done = run_piped(
        f"{sys.executable} -c \"import sys; sys.stdout.write('x' * 3_000_000); print('{{}}')\"",
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=30,
        max_bytes=1_000_000,
    )
    assert done.exit_code == 0 and len(done.stdout) == 1_000_000
    assert done.too_long is not None and "more than 1000000 bytes on stdout" in done.too_long
    small = run_piped("cat", cwd=tmp_path, env=dict(os.environ), timeout=30, stdin='{"a": 1}')
    assert small.stdout == '{"a": 1}' and small.too_long is None
