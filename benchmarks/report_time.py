"""`autoresearch report` on a 30-experiment params study, before and after, and what it imports.

"Before" is the source tree at an older commit (default 317a508, when parameter importance went
through Optuna's fANOVA and so imported scikit-learn), taken with `git archive`; "after" is this
checkout's src/. Both run with the same interpreter on the same synthetic study (tests/support/synthetic.py),
alternating, so load affects them alike. Wall and CPU seconds (the child's user + system time, which
other jobs on a shared machine move far less) are medians.

    python benchmarks/report_time.py [BASELINE_COMMIT] [RUNS]
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))  # the tests package, for the synthetic study

from tests.support.synthetic import make_study  # noqa: E402

# The spec of tests/support/synthetic.py's history (its PARAMS), as a user would write it.
SPEC = """
[study]
name = "synthetic"
[run]
command = "python train.py"
[metric]
name = "val_loss"
[params]
lr = { low = 1e-4, high = 0.3, log = true }
hidden = { choices = [32, 64, 128, 256] }
dropout = { low = 0.0, high = 0.5 }
layers = { low = 1, high = 6 }
"""


def source_at(commit: str, into: Path) -> Path:
    """The commit's src/ folder, extracted under INTO."""
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed_report(src: Path, study: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `autoresearch report STUDY` run with SRC's package."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "autoresearch", "report", str(study)], env=env, capture_output=True, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports_sklearn(src: Path, study: Path) -> bool:
    code = (
        "import sys; from autoresearch.ui.cli import main\n"
        "try:\n    main(['report', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "print('sklearn' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", code, str(study)], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1] == "True"


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else "317a508"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory(prefix="report-time-") as tmp:
        before, after = source_at(commit, Path(tmp) / "before"), REPO / "src"
        study = Path(tmp) / "study"
        study.mkdir()
        (study / "autoresearch.toml").write_text(SPEC)
        make_study(study / ".autoresearch" / "synthetic", 30, seed=1).close()
        samples: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        for _ in range(runs):  # alternate, so that a load spike hits both
            samples["before"].append(timed_report(before, study))
            samples["after"].append(timed_report(after, study))
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {runs} runs")
        print("| source | wall s | CPU s | imports scikit-learn |")
        print("| --- | --- | --- | --- |")
        for name, src in (("before", before), ("after", after)):
            wall = statistics.median(w for w, _ in samples[name])
            cpu = statistics.median(c for _, c in samples[name])
            label = f"before ({commit})" if name == "before" else "after"
            print(f"| {label} | {wall:.2f} | {cpu:.2f} | {'yes' if imports_sklearn(src, study) else 'no'} |")


if __name__ == "__main__":
    main()
