"""Command-line start-up: `autoresearch --help` and `autoresearch status`, before and after.

"Before" is the source tree at an older commit (default 9b23f4a, before imports were deferred), taken
with `git archive` into a temporary folder; "after" is this checkout's src/. Both run with the same
interpreter, on the same machine, in the same run, alternating, so load affects them alike.
Target: `--help` well under 0.5 s.

    python benchmarks/startup.py [BASELINE_COMMIT] [RUNS]
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STUDY = """
[study]
name = "startup"
[run]
command = "echo loss=1"
[metric]
name = "loss"
[params]
x = { low = 0.0, high = 1.0 }
[proposer]
use = "random"
[budget]
experiments = 3
"""


def source_at(commit: str, into: Path) -> Path:
    """The commit's src/ folder, extracted under INTO."""
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def seconds(src: Path, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autoresearch", *args], env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else "9b23f4a"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        before, after = source_at(commit, Path(tmp) / "before"), REPO / "src"
        study = Path(tmp) / "study"
        study.mkdir()
        (study / "autoresearch.toml").write_text(STUDY)
        seconds(after, "run", str(study))  # a study for `status` to read
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {runs} runs")
        print(f"| command | before ({commit}) s | after s | ratio |")
        print("| --- | --- | --- | --- |")
        for args in (("--help",), ("status", str(study))):
            samples: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(runs):  # alternate, so that a load spike hits both
                samples["before"].append(seconds(before, *args))
                samples["after"].append(seconds(after, *args))
            b, a = statistics.median(samples["before"]), statistics.median(samples["after"])
            print(f"| `autoresearch {args[0]}` | {b:.3f} | {a:.3f} | {b / a:.1f}x faster |")


if __name__ == "__main__":
    main()
