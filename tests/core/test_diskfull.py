"""A full disk stops the study with one clear line and a non-zero exit; after freeing space it resumes.

The study lives on a 4 MiB tmpfs mounted in a private mount namespace (`unshare -m` as root, `unshare -rm`
otherwise), where a candidate fills the disk while it runs: the log it prints to cannot be written.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PYTHON
from tests.redteam.conftest import params_study

EXPERIMENT = """
import os, sys, time
cheat = int(sys.argv[1])
if cheat == 1 and os.path.exists("fill"):
    if open("fill").read() == "store":  # the log is written first: the store's next write hits the full disk
        print("loss:", 5 - cheat, flush=True)
        time.sleep(0.5)
    with open(os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "filler"), "wb", buffering=0) as out:
        for size in (65536, 4096, 1):  # to the last byte
            try:
                while out.write(b"x" * size):
                    pass
            except OSError:
                pass
print("loss:", 5 - cheat)
"""


@pytest.mark.parametrize("full_at", ["log", "store"])
def test_a_full_disk_stops_the_study_with_one_line_and_it_resumes(full_at: str, tmp_path: Path) -> None:
    source = params_study(
        tmp_path / "source",
        f"{PYTHON} exp.py {{cheat}}",
        [{"params": {"cheat": c}} for c in (1, 2)],
        extra='[sandbox]\nkind = "none"\n',
        files={"exp.py": EXPERIMENT, "fill": full_at},
    )
    disk = tmp_path / "disk"
    disk.mkdir()
    run = f"{shlex.quote(PYTHON)} -m autoresearch"
    script = textwrap.dedent(
        f"""
        mount -t tmpfs -o size=4m tmpfs {disk} || exit 99
        cp -r {source}/. {disk}/ && cd {disk}
        {run} run . > first.out 2>&1; echo "first exit $?"; tail -n 3 first.out
        rm -f fill .autoresearch/rt/experiments/*/output/filler
        {run} run . > second.out 2>&1; echo "second exit $?"
        {run} log .
        """
    )
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    done = subprocess.run([*prefix, "sh", "-c", script], capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first exit 1" in out, out
    first = out.split("first exit 1", 1)[1].split("second exit", 1)[0]
    assert "disk full: could not write" in first and "the study is intact" in first, first
    assert "Traceback" not in first
    assert ("stdout.log" in first) == (full_at == "log") and ("database or disk is full" in first) == (
        full_at == "store"
    )
    assert "second exit 0" in out, out
    log = out.split("second exit 0", 1)[1]
    assert [line.split()[1] for line in log.splitlines() if line.startswith("#")] == [
        "baseline",
        "kept",
        "kept",
    ], log
