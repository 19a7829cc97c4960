"""Parity: the default search policy (`greedy`) decides exactly as the loop did before the archive.

Runs the same seeded studies with this checkout's src/ and with the src/ of an older commit (default
842bac3, the last one before the archive and search policies), each through the real command line
(`python -m autoresearch run`), then compares every experiment: parent, decision, objective and what
was proposed (params, or the edits). Studies:

- bowl-random, bowl-tpe, bowl-cmaes: a quadratic bowl, params mode, with each sampler;
- bowl-significant: the bowl with seeded noise, 3 repeats and the `significant` keep rule;
- code-script: code mode in a git repository, a `script:` proposer editing two constants;
- quickstart-tpe: examples/quickstart (a numpy MLP on scikit-learn's digits), TPE.

    python benchmarks/parity.py [BASELINE_COMMIT] [--experiments 25] [--only bowl-tpe,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

BOWL = """
import json, os, random, sys
p = json.load(open(sys.argv[1]))
noise = float(os.environ.get("NOISE", "0"))
jitter = random.Random(f"{p} {os.environ.get('AUTORESEARCH_SEED', '0')}").gauss(0, noise) if noise else 0.0
print("loss:", (p["x"] - 1.0) ** 2 + (p["y"] + 2.0) ** 2 + jitter)
"""

BOWL_SPEC = """
[study]
name = "bowl"
seed = 7
[run]
command = "{python} bowl.py {{params_file}}"
timeout = "60s"
repeats = {repeats}
env = {{ NOISE = "{noise}" }}
[metric]
name = "loss"
[params]
x = {{ low = -5.0, high = 5.0 }}
y = {{ low = -5.0, high = 5.0 }}
[proposer]
use = "{proposer}"
[budget]
experiments = {experiments}
{extra}
"""

# A proposer script: moves one of two constants to a value picked from the history's length.
MUTATE = """
import json, random, re, sys
study = json.load(sys.stdin)
text = study["files"]["model.py"]
rng = random.Random(len(study["history"]))
name = rng.choice(["A", "B"])
old = re.search(rf"^{name} = .*$", text, re.M).group(0)
new = f"{name} = {rng.randint(-10, 20)}"
if new == old:
    new = f"{name} = {rng.randint(21, 40)}"
edit = f"model.py\\n<<<<<<< SEARCH\\n{old}\\n=======\\n{new}\\n>>>>>>> REPLACE\\n"
print(json.dumps({"edits": edit, "rationale": f"{old} -> {new}"}))
"""

CODE_SPEC = """
[study]
name = "code"
goal = "Lower the loss."
[run]
command = "{python} -c 'import model; print(\\"loss:\\", (model.A - 3) ** 2 + (model.B - 7) ** 2)'"
timeout = "60s"
[metric]
name = "loss"
[code]
editable = ["model.py"]
[proposer]
use = "script:{python} mutate.py"
[budget]
experiments = {experiments}
"""


def source_at(commit: str, into: Path) -> Path:
    """The commit's src/ folder, extracted under INTO."""
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def make_study(name: str, folder: Path, experiments: int) -> Path:
    folder.mkdir(parents=True)
    if name == "quickstart-tpe":
        shutil.copytree(REPO / "examples" / "quickstart", folder, dirs_exist_ok=True)
        toml = (folder / "autoresearch.toml").read_text()
        (folder / "autoresearch.toml").write_text(toml.replace("experiments = 30", f"experiments = {experiments}"))
        return folder
    if name == "code-script":
        (folder / "model.py").write_text("A = 10\nB = 10\n")
        (folder / "mutate.py").write_text(MUTATE)
        (folder / "autoresearch.toml").write_text(CODE_SPEC.format(python=PYTHON, experiments=experiments))
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
            subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
        return folder
    sampler = name.removeprefix("bowl-")
    noisy = sampler == "significant"
    spec = BOWL_SPEC.format(
        python=PYTHON,
        proposer="tpe" if noisy else sampler,
        experiments=experiments,
        repeats=3 if noisy else 1,
        noise=0.3 if noisy else 0,
        extra='[noise]\nrule = "significant"\nbaseline_repeats = 5' if noisy else "",
    )
    (folder / "autoresearch.toml").write_text(textwrap.dedent(spec))
    (folder / "bowl.py").write_text(BOWL)
    return folder


def run_study(src: Path, folder: Path) -> tuple[list[dict[str, Any]], float]:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    started = time.time()
    done = subprocess.run(
        [PYTHON, "-m", "autoresearch", "run", str(folder)], env=env, capture_output=True, text=True, timeout=3600
    )
    elapsed = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"{folder} failed under {src}:\n{done.stderr[-3000:]}")
    (db,) = (folder / ".autoresearch").glob("*/study.db")
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    rows = connection.execute(
        "SELECT id, parent_id, decision, objective, params, proposal FROM experiments ORDER BY id"
    ).fetchall()
    connection.close()
    return [
        {
            "id": r["id"],
            "parent": r["parent_id"],
            "decision": r["decision"],
            "objective": r["objective"],
            "proposal": json.loads(r["proposal"] or "{}"),
        }
        for r in rows
    ], elapsed


def best(rows: list[dict[str, Any]]) -> float | None:
    kept = [r["objective"] for r in rows if r["decision"] in ("baseline", "kept") and r["objective"] is not None]
    return kept[-1] if kept else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", nargs="?", default="842bac3")
    parser.add_argument("--experiments", type=int, default=25)
    parser.add_argument("--only", default="bowl-random,bowl-tpe,bowl-cmaes,bowl-significant,code-script,quickstart-tpe")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    print(f"parity: this checkout ({head.strip()}, default policy) against {args.baseline}, {args.experiments} exps")
    print()
    print("| study | experiments | same parent, decision, objective, proposal | best before | best now | time |")
    print("| --- | --- | --- | --- | --- | --- |")
    mismatches = 0
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        before_src = source_at(args.baseline, Path(tmp) / "baseline")
        now_src = REPO / "src"
        for name in args.only.split(","):
            experiments = min(args.experiments, 16) if name == "quickstart-tpe" else args.experiments
            before, before_s = run_study(before_src, make_study(name, Path(tmp) / "before" / name, experiments))
            now, now_s = run_study(now_src, make_study(name, Path(tmp) / "now" / name, experiments))
            same = sum(
                1
                for a, b in zip(before, now, strict=False)
                if (a["parent"], a["decision"], a["proposal"]) == (b["parent"], b["decision"], b["proposal"])
                and a["objective"] == b["objective"]
            )
            if same != len(before) or len(before) != len(now):
                mismatches += 1
            print(
                f"| {name} | {len(now)} | {same}/{len(before)} | {best(before)} | {best(now)} | "
                f"{before_s:.0f} s before, {now_s:.0f} s now |",
                flush=True,
            )
    print()
    print("parity holds on every study" if not mismatches else f"parity broken on {mismatches} study(ies)")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
