"""Issue #25: when the sandbox makes the baseline fail, the message names it and the spec line that allows
what it refused, and uncommitted files are not blamed. Each test is a small real library in a git
repository (a package, a pytest suite, an uncommitted AUTHORS.md), run with the real CLI under
`sandbox.kind = "auto"` (bubblewrap here), first failing, then passing once the named line is added."""

from __future__ import annotations

import http.server
import os
import subprocess
import sysconfig
import textwrap
import threading
import uuid
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.store.database import Store
from tests.conftest import PYTHON, write_study
from tests.redteam.conftest import params_study

LIBRARY = {
    "conftest.py": "# the repository's root goes on sys.path, so the tests import mylib\n",
    "mylib/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_add.py": "from mylib import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def make_venv(folder: Path) -> Path:
    """A virtual environment in FOLDER (under /tmp) whose packages are this venv's (pytest among them)."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    purelib = sysconfig.get_paths()["purelib"]
    site = next(folder.glob("lib/python*/site-packages"))
    (site / "outer.pth").write_text(purelib + "\n")
    return folder / "bin" / "python"


def library_study(root: Path, bench: str, extra: str = "", run: str = "") -> Path:
    """A code-mode study of LIBRARY: BENCH (bench.py) prints the metric; AUTHORS.md is left uncommitted."""
    write_study(
        root,
        f"""
        [study]
        name = "lib"
        [run]
        command = "{PYTHON} bench.py"
        timeout = "60s"
        {run}
        [metric]
        name = "loss"
        [code]
        editable = ["mylib/*.py"]
        [proposer]
        use = "script:{PYTHON} propose.py"
        [budget]
        experiments = 1
        {extra}
        """,
        {**LIBRARY, "bench.py": bench, "propose.py": "print('{\"done\": true}')\n"},
    )
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    (root / "AUTHORS.md").write_text("someone\n")  # uncommitted, and nothing to do with any failure below
    return root


def autoresearch(root: Path, env: dict[str, str] | None = None, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", *flags, str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or dict(os.environ),
    )


def add_lines(root: Path, section: str, lines: str) -> None:
    """Add LINES under [SECTION] of the study's spec (a new table at the end when it has none)."""
    spec = root / "autoresearch.toml"
    text = spec.read_text()
    header = f"[{section}]\n"
    if header in text:
        text = text.replace(header, header + lines + "\n", 1)
    else:
        text += "\n" + header + lines + "\n"
    spec.write_text(text)


def experiments(root: Path) -> list[Experiment]:
    store = Store(root / ".autoresearch" / "lib", create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def assert_sandbox_named(result: subprocess.CompletedProcess[str], fix: str) -> None:
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "the sandbox is the likely cause" in said and fix in said, said
    assert "not committed" not in said, said  # AUTHORS.md cannot have caused this


def test_a_library_whose_venv_is_in_tmp_runs_its_suite_as_the_guard(tmp_path: Path) -> None:
    # The interpreter the guard names by path is shown read-only, although bwrap's /tmp is private.
    python = make_venv(tmp_path / "venv")
    assert Path("/tmp") in python.parents
    guard = f'[[guard]]\nname = "tests"\ncommand = "{python} -m pytest -q -p no:cacheprovider tests"'
    root = library_study(tmp_path / "lib", "print('loss: 1.0')\n", extra=guard)
    done = autoresearch(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [e.decision for e in experiments(root)] == ["baseline"]
    store = Store(root / ".autoresearch" / "lib", create=False)
    try:
        assert store.get_meta("sandbox") == "bwrap"
    finally:
        store.close()


def test_a_guard_found_on_path_in_a_venv_in_tmp_stops_before_the_baseline(tmp_path: Path) -> None:
    # `pytest` from an activated venv under /tmp: found on PATH outside, hidden by the private /tmp
    # inside; the pre-flight check stops before the baseline, naming sandbox.readable with the venv.
    python = make_venv(tmp_path / "venv")
    pytest_script = python.parent / "pytest"
    pytest_script.write_text(f"#!{python}\nimport sys, pytest\nsys.exit(pytest.main())\n")
    pytest_script.chmod(0o755)
    guard = '[[guard]]\nname = "tests"\ncommand = "pytest -q -p no:cacheprovider tests"'
    root = library_study(tmp_path / "lib", "print('loss: 1.0')\n", extra=guard)
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
    stopped = autoresearch(root, env)
    assert "stopped before the baseline: guard tests cannot start" in stopped.stdout, stopped.stdout + stopped.stderr
    assert_sandbox_named(stopped, f'sandbox.readable = ["{tmp_path / "venv"}"]')
    assert experiments(root) == []  # nothing ran, nothing of the budget was spent
    add_lines(root, "sandbox", f'readable = ["{tmp_path / "venv"}"]')
    done = autoresearch(root, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [e.decision for e in experiments(root)] == ["baseline"]


def test_data_in_tmp_names_sandbox_readable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1 2 3\n")
    bench = f"numbers = open({str(data / 'numbers.txt')!r}).read().split()\nprint('loss:', len(numbers))\n"
    root = library_study(tmp_path / "lib", bench)
    assert_sandbox_named(autoresearch(root), f'sandbox.readable = ["{data}"]')
    add_lines(root, "sandbox", f'readable = ["{data}"]')
    done = autoresearch(root)  # the spec changed after a failed baseline: the baseline is retried
    assert done.returncode == 0, done.stdout + done.stderr
    assert experiments(root)[-1].metrics == {"loss": 3.0}


@pytest.fixture
def home_folder() -> Iterator[Path]:
    """A folder in HOME (read-only in the sandbox) that a tool wants to write, removed afterwards."""
    folder = Path.home() / f".autoresearch-test-{uuid.uuid4().hex[:8]}"
    yield folder
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()


def test_a_write_in_read_only_home_names_sandbox_writable(tmp_path: Path, home_folder: Path) -> None:
    bench = f"""
        import pathlib
        cache = pathlib.Path({str(home_folder)!r})
        cache.mkdir(exist_ok=True)
        (cache / "compiled.txt").write_text("x")
        print("loss: 2.0")
        """
    root = library_study(tmp_path / "lib", textwrap.dedent(bench))
    shown = "~/" + home_folder.name
    assert_sandbox_named(autoresearch(root), f'sandbox.writable = ["{shown}"]')
    assert not home_folder.exists()
    add_lines(root, "sandbox", f'writable = ["{shown}"]')
    done = autoresearch(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home_folder / "compiled.txt").read_text() == "x"


def test_tool_caches_go_to_a_per_run_folder_by_default(tmp_path: Path) -> None:
    # pip, torch, triton, Hugging Face, matplotlib and XDG caches: writable without any spec line.
    bench = """
        import os, pathlib
        names = ["XDG_CACHE_HOME", "PIP_CACHE_DIR", "TRITON_CACHE_DIR", "MPLCONFIGDIR"]
        for name in names:
            folder = pathlib.Path(os.environ[name]) / "tool"
            folder.mkdir(parents=True)
            (folder / "entry").write_text(name)
        print("loss:", len(names))
        print("under_tmp:", int(all(os.environ[n].startswith("/tmp/") for n in names)))
        """
    root = library_study(tmp_path / "lib", textwrap.dedent(bench))
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "PIP_CACHE_DIR", "MPLCONFIGDIR")}
    done = autoresearch(root, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert experiments(root)[0].metrics == {"loss": 4.0, "under_tmp": 1.0}


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"7")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_refused_connection_under_network_false_names_sandbox_network(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        bench = f"import urllib.request\nprint('loss:', urllib.request.urlopen({url!r}, timeout=10).read().decode())\n"
        root = library_study(tmp_path / "lib", bench, extra="[sandbox]\nnetwork = false")
        assert_sandbox_named(autoresearch(root), "sandbox.network = true")
        spec = root / "autoresearch.toml"
        spec.write_text(spec.read_text().replace("network = false", "network = true"))
        done = autoresearch(root)
        assert done.returncode == 0, done.stdout + done.stderr
        assert experiments(root)[-1].metrics == {"loss": 7.0}
    finally:
        server.shutdown()


def test_a_variable_the_allowlist_dropped_names_run_pass_env(tmp_path: Path) -> None:
    bench = "import os\nprint('loss:', len(os.environ['MYLIB_SCALE']))\n"
    root = library_study(tmp_path / "lib", bench)
    env = {**os.environ, "MYLIB_SCALE": "large"}
    assert_sandbox_named(autoresearch(root, env), 'run.pass_env = ["MYLIB_SCALE"]')
    add_lines(root, "run", 'pass_env = ["MYLIB_SCALE"]')
    done = autoresearch(root, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert experiments(root)[-1].metrics == {"loss": 5.0}


def test_a_hidden_path_is_named_as_hidden_with_no_line_that_opens_it(tmp_path: Path) -> None:
    # The baseline reads the holdout's data: hidden from runs by design; the message says where it is
    # hidden and that no spec line opens it (the threat model), not that AUTHORS.md is uncommitted.
    bench = "import os\nprint('loss:', len(open(os.path.abspath('secret/answers.txt')).read()))\n"
    holdout = f'[holdout]\ncommand = "{PYTHON} -c \\"print(1)\\""\nmetric = "score"\ndata = ["secret"]'
    root = library_study(tmp_path / "lib", bench, extra=holdout)
    (root / "secret").mkdir()
    (root / "secret" / "answers.txt").write_text("42\n")
    subprocess.run(["git", "add", "secret"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "data"], cwd=root, check=True)
    failed = autoresearch(root)
    assert_sandbox_named(failed, "no spec line opens it")
    assert "holdout.data (secret)" in failed.stdout


def test_a_missing_uncommitted_module_is_still_named(tmp_path: Path) -> None:
    # The hint about uncommitted files stays where it is the cause: the baseline imports helper.py.
    root = library_study(tmp_path / "lib", "import helper\nprint('loss:', helper.X)\n")
    (root / "helper.py").write_text("X = 1\n")
    failed = autoresearch(root)
    assert failed.returncode == 1
    assert "not committed: helper.py." in failed.stdout, failed.stdout
    assert "AUTHORS.md" not in failed.stdout and "the sandbox is" not in failed.stdout


def test_a_candidates_failure_is_not_diagnosed(tmp_path: Path) -> None:
    # A candidate that prints a variable's name or a path must not learn from autoresearch whether it
    # exists outside its view: only the baseline (the user's code) is diagnosed.
    experiment = (
        "import sys\nif int(sys.argv[1]):\n"
        "    sys.exit(f\"KeyError: 'MYLIB_SECRET_NAME' and {sys.argv[2]}: No such file or directory\")\n"
        "print('loss: 1')\n"
    )
    probe = tmp_path / "outside" / "exists.txt"
    probe.parent.mkdir()
    probe.write_text("x")
    root = params_study(
        tmp_path / "s",
        f"{PYTHON} exp.py {{cheat}} {probe}",
        [{"params": {"cheat": 1}}],
        files={"exp.py": experiment},
    )
    done = subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "MYLIB_SECRET_NAME": "x"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store(root / ".autoresearch" / "rt", create=False)
    try:
        rows = store.experiments()
    finally:
        store.close()
    assert [e.decision for e in rows] == ["baseline", "failed"]
    assert "MYLIB_SECRET_NAME" in (rows[1].reason or "") and "sandbox" not in (rows[1].reason or "")


def test_a_proposers_first_failure_names_its_own_option(tmp_path: Path) -> None:
    # A script proposer that needs a variable the allowlist dropped: its first failure names the
    # [proposer] option that passes it; later failures are not diagnosed (one verdict per run).
    propose = "import os, json\nos.environ['MYLIB_PROPOSER_KEY']\nprint(json.dumps({'params': {'x': 1}}))\n"
    write_study(
        tmp_path / "s",
        f"""
        [study]
        name = "lib"
        [run]
        command = "{PYTHON} exp.py {{x}}"
        [metric]
        name = "loss"
        [params]
        x = {{ low = 0, high = 9, default = 0 }}
        [proposer]
        use = "script:{PYTHON} propose.py"
        [budget]
        experiments = 3
        """,
        {"propose.py": propose, "exp.py": "import sys\nprint('loss:', sys.argv[1])\n"},
    )
    root = tmp_path / "s"
    env = {**os.environ, "MYLIB_PROPOSER_KEY": "k"}
    stopped = autoresearch(root, env)
    rows = experiments(root)
    # The same failure again and again stops the study (propose/failures), using no budget.
    assert stopped.returncode != 0 and "proposer" in stopped.stdout + stopped.stderr
    decisions = [e.decision for e in rows][1:]
    assert len(decisions) >= 2 and set(decisions) == {"rejected"}, [(e.decision, e.reason) for e in rows]
    fix = 'pass_env = ["MYLIB_PROPOSER_KEY"] in [proposer] options'
    assert fix in (rows[1].reason or "") and "KeyError" in (rows[1].reason or "")
    assert "sandbox" not in (rows[2].reason or "")
    spec = root / "autoresearch.toml"
    text = spec.read_text().replace("experiments = 3", "experiments = 4")
    spec.write_text(text.replace('propose.py"\n', 'propose.py"\noptions = { pass_env = ["MYLIB_PROPOSER_KEY"] }\n'))
    resumed = autoresearch(root, env, "--accept-spec-change")  # a proposer option changes the search
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert experiments(root)[-1].params == {"x": 1}  # the proposer runs, with its variable


def test_a_plain_bug_that_prints_a_path_in_tmp_is_not_blamed_on_the_sandbox(tmp_path: Path) -> None:
    # The output names a folder that exists outside, under /tmp, but does not complain it is missing.
    bench = f"print('working in', {str(tmp_path)!r})\nraise ValueError('the model diverged')\n"
    root = library_study(tmp_path / "lib", bench)
    failed = autoresearch(root)
    assert failed.returncode == 1 and "ValueError: the model diverged" in failed.stdout, failed.stdout
    assert "the sandbox is" not in failed.stdout and "not committed" not in failed.stdout


def test_a_scorer_reading_labels_in_tmp_names_sandbox_readable(tmp_path: Path) -> None:
    # The scorer's message never quotes its output (it may hold hidden data), but names the wall.
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "y.txt").write_text("1 0 1\n")
    score = f"labels = open({str(labels / 'y.txt')!r}).read().split()\nprint('loss:', len(labels))\n"
    scorer = f'[scorer]\ncommand = "{PYTHON} score.py"'
    root = library_study(tmp_path / "lib", "print('ran')\n", extra=scorer)
    (root / "score.py").write_text(score)
    subprocess.run(["git", "add", "score.py"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "s"], cwd=root, check=True)
    failed = autoresearch(root)
    assert_sandbox_named(failed, f'sandbox.readable = ["{labels}"]')
    assert "the scorer failed (exit code 1)" in failed.stdout
    add_lines(root, "sandbox", f'readable = ["{labels}"]')
    done = autoresearch(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert experiments(root)[-1].metrics == {"loss": 3.0}
