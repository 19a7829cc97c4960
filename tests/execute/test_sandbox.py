"""`sandbox.kind = "auto"`: bubblewrap where it works, else no sandbox with a warning everywhere it matters."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from autoresearch.store.database import Store
from tests.conftest import PYTHON
from tests.redteam.conftest import params_study


def autoresearch(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "COLUMNS": "200"}
    return subprocess.run([PYTHON, "-m", "autoresearch", *args], capture_output=True, text=True, timeout=120, env=env)


def test_auto_falls_back_to_none_with_a_warning_when_bubblewrap_is_missing(tmp_path: Path) -> None:
    experiment = "import os, sys\nprint('loss:', 1 + int(sys.argv[1]))\nprint('store:', int(os.path.exists(STORE)))\n"
    experiment = experiment.replace("STORE", repr(".autoresearch/rt/study.db"))
    root = params_study(
        tmp_path / "s", f"{PYTHON} exp.py {{cheat}}", [{"params": {"cheat": 1}}], files={"exp.py": experiment}
    )
    bare = tmp_path / "bin"  # a PATH without bwrap (the commands here are absolute paths)
    bare.mkdir()
    run = autoresearch("run", str(root), path=str(bare))
    assert run.returncode == 0, run.stderr
    assert 'sandbox kind "none"' in run.stderr and "bubblewrap" in run.stderr  # the run header says why
    status = autoresearch("status", str(root), path=str(bare))
    assert 'sandbox kind "none"' in status.stdout
    assert _metrics(root)["store"] == 1  # unisolated: the run could see (and write) the store
    with_bwrap = autoresearch("status", str(root), path=os.environ["PATH"])
    assert 'sandbox kind "none"' in with_bwrap.stdout  # what the study ran with, not what this machine has


def test_auto_uses_bubblewrap_where_it_works(tmp_path: Path) -> None:
    # Under bwrap the run has its own PID namespace (it gets a low pid) and cannot see the store.
    experiment = (
        "import os, sys\nprint('loss:', 1 + int(sys.argv[1]))\n"
        "print('pid:', os.getpid())\nprint('store:', int(os.path.exists('.autoresearch/rt/study.db')))\n"
    )
    root = params_study(
        tmp_path / "s", f"{PYTHON} exp.py {{cheat}}", [{"params": {"cheat": 1}}], files={"exp.py": experiment}
    )
    run = autoresearch("run", str(root), path=os.environ["PATH"])
    assert run.returncode == 0, run.stderr
    assert "sandbox" not in run.stderr
    metrics = _metrics(root)
    assert metrics["pid"] < 10 and metrics["store"] == 0


def _metrics(root: Path) -> dict[str, float]:
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        return store.experiments()[0].metrics or {}
    finally:
        store.close()


def test_the_private_tmp_keeps_what_autoresearchs_python_imports_from(tmp_path: Path) -> None:
    # A CI clone in /tmp installs autoresearch (editable) from /tmp/<clone>/src: whatever the running
    # Python imports from must stay visible under bwrap's private /tmp, read-only, for runs and scorers
    # that import from it (examples/adversarial's scorer imports autoresearch).
    assert Path("/tmp") in tmp_path.resolve().parents
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper_mod.py").write_text("VALUE = 3\n")
    experiment = (
        f"import sys\nsys.path.insert(0, {str(lib)!r})\nimport helper_mod\n"
        "print('loss:', helper_mod.VALUE + int(sys.argv[1]))\n"
        "try:\n    open(helper_mod.__file__, 'a').write('#')\n    print('wrote: 1')\n"
        "except OSError:\n    print('wrote: 0')\n"
    )
    root = params_study(
        tmp_path / "s", f"{PYTHON} exp.py {{cheat}}", [{"params": {"cheat": 1}}], files={"exp.py": experiment}
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", str(root)], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr
    assert _metrics(root) == {"loss": 3.0, "wrote": 0.0}  # imported, and read-only
