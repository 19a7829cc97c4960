"""The loop's own cost per experiment, side by side with a bare subprocess loop and Optuna's optimize.

All three run the same no-op experiment (`echo loss=1` through /bin/sh, as autoresearch runs commands)
N times in the same process, pinned to one core. Rows:

- bare subprocess.run loop: the floor, what running the command alone costs;
- optuna study.optimize: Optuna's own loop (RandomSampler, in-memory storage) calling the command;
- autoresearch params mode: the full loop (`random` proposer, SQLite store, params file, logs);
- autoresearch code mode: the full loop on a git repository of 1,000 files, one SEARCH/REPLACE edit per
  experiment, materialised in a reused worktree and committed (git's share broken down below).

Target: params-mode overhead under 10 ms per experiment above the bare loop; code mode's git work
under 100 ms per experiment. These rows run with `sandbox.kind = "none"`: the loop's own cost.

`--sandbox` instead measures what isolation costs: the same params-mode loop under `sandbox.kind = "none"`
and `"bwrap"` (run alternately, twice each), and bubblewrap's cost per experiment (target < 50 ms).

    python benchmarks/overhead.py [N]
    python benchmarks/overhead.py --sandbox [N]

Flat cost (`--scale`): the loop's cost per experiment at the start of a study and after thousands of
experiments. Each study runs in its own process (so its resident memory is its own), pinned to one
core, with an observer noting when each experiment ends; windows of 100 experiments give ms per
experiment, and the bare command's cost, measured in the same process before and after the study, is
subtracted to give the loop's overhead. Studies: params mode with `random`, `cmaes` and `tpe` to
10,000 experiments (the command prints x, y and the experiment id; the objective, a bowl whose
centre moves with the id, keeps CMA-ES from converging into repeats), and code mode to 2,000. Goals:
`random`/`cmaes` under 10 ms per experiment at 10,000 and within 1.5x of the first 100; code mode
at 2,000 within 1.5x of its first 100. TPE fits on every trial (linear per ask); `tpe-window` (in
--samplers) measures its remedy, `options = { window = 1000 }`. The `random` study is then checked with `status`, `log`,
`report` and the dashboard (benchmarks/report_scale.py's measures).

    python benchmarks/overhead.py --scale [--experiments 10000] [--code 2000] [--samplers random,cmaes,tpe] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

sys.path.insert(0, str(Path(__file__).parent))

from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.engine.loop import Loop, Outcome
from autoresearch.propose.base import Context
from autoresearch.spec import load_spec, spec_from_dict

COMMAND = "echo loss=1"


def bare(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(COMMAND, shell=True, capture_output=True, check=True)
    return time.perf_counter() - start


def optuna_optimize(n: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("x", -5, 5)
        out = subprocess.run(COMMAND, shell=True, capture_output=True, check=True)
        return float(out.stdout.decode().split("=")[1])

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - start


def autoresearch_params(n: int, root: Path, kind: str = "none") -> float:
    spec = spec_from_dict(
        {
            "sandbox": {"kind": kind},
            "study": {"name": "overhead"},
            "run": {"command": COMMAND},
            "metric": {"name": "loss"},
            "params": {"x": {"low": -5.0, "high": 5.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": n},
        },
        root=root,
    )
    start = time.perf_counter()
    Loop(spec).run()
    return time.perf_counter() - start


EDITED = "pkg00/module_0000.py"


class _EditProposer:
    """Proposes one small edit per experiment, in-process, so only the loop and git are measured."""

    name = "bench"

    def propose(self, context: Context) -> Proposal:
        # The edit must apply to the parent (the best, which stays the baseline: every run scores the
        # same), or the candidate is rejected before it runs and no git work is measured.
        n = len(context.history)
        current = re.search(r"^VALUE = \d+$", context.files[EDITED], re.MULTILINE)
        assert current is not None
        block = f"{EDITED}\n<<<<<<< SEARCH\n{current.group()}\n=======\nVALUE = {n}\n>>>>>>> REPLACE\n"
        return Proposal(edits=block, edit_format="search_replace", rationale=f"value {n}")

    def observe(self, experiment: Experiment) -> None:
        pass


def make_repo(root: Path, n_files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for index in range(n_files):
        file = root / f"pkg{index % 20:02d}" / f"module_{index:04d}.py"
        file.parent.mkdir(exist_ok=True)
        file.write_text("".join(f"def f_{index}_{i}(x):\n    return x * {i}\n\n" for i in range(40)) + "VALUE = 0\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "files"], cwd=root, check=True)


def autoresearch_code(n: int, root: Path) -> float:
    make_repo(root, 1000)
    spec = spec_from_dict(
        {
            "study": {"name": "overhead-code"},
            "run": {"command": COMMAND},
            "metric": {"name": "loss"},
            "code": {"editable": ["pkg00/module_0000.py"]},
            "sandbox": {"kind": "none"},
            "proposer": {"use": "script:unused"},
            "budget": {"experiments": n},
        },
        root=root,
    )
    start = time.perf_counter()
    Loop(spec, proposer=_EditProposer()).run()
    return time.perf_counter() - start


def sandbox_comparison(n: int) -> None:
    """Params mode under kind none and bwrap, alternately (none, bwrap, none, bwrap), N experiments each."""
    from autoresearch.execute.sandbox import bwrap_usable

    why = bwrap_usable()
    if why is not None:
        sys.exit(f"bubblewrap is not usable here: {why}")
    times: dict[str, list[float]] = {"none": [], "bwrap": []}
    with tempfile.TemporaryDirectory() as temp:
        for round_ in range(2):
            for kind in times:
                times[kind].append(autoresearch_params(n, Path(temp) / f"{kind}-{round_}", kind) / n)
    none, bwrap = min(times["none"]), min(times["bwrap"])  # the less disturbed of two rounds
    print(f"sandbox cost per experiment, {n} experiments of `{COMMAND}` in params mode, pinned to one core")
    print(f"python {platform.python_version()}, {platform.platform()}")
    print(f"{'sandbox.kind':14} {'ms/exp (2 rounds)':>22} {'best ms/exp':>12}")
    for kind, values in times.items():
        rounds = ", ".join(f"{1000 * v:.2f}" for v in values)
        print(f"{kind:14} {rounds:>22} {1000 * min(values):12.2f}")
    print(f"bwrap costs {1000 * (bwrap - none):.2f} ms/experiment over none ({bwrap / none:.2f}x) (target < 50 ms)")


# -- flat cost: windows of 100 experiments, early and late ------------------------------------------

WINDOW = 100
# A bowl whose centre moves along a sawtooth with the experiment id: CMA-ES keeps tracking it instead
# of converging onto one point and repeating it (which stops a study as "exhausted").
SCALE_SPEC = """\
[study]
name = "scale-{kind}"

[run]
command = "echo x={{x}}; echo y={{y}}; echo id={{experiment_id}}"

[metric]
name = "x"
objective = "(x - (id % 200) / 20 + 5) ** 2 + (y + (id % 300) / 30 - 5) ** 2"

[params]
x = {{ low = -5.0, high = 5.0 }}
y = {{ low = -5.0, high = 5.0 }}

[proposer]
use = "{use}"
{options}

[budget]
experiments = {n}

[sandbox]
kind = "none"  # the loop's own cost; `--sandbox` measures bwrap's
"""


class _Clock:
    """Notes when each experiment ends, and the coordinator's memory when the study stops."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        # The coordinator's own CPU time (all its threads, not the experiments' processes): unlike wall
        # time it hardly moves with other load on the machine, so it shows growth where wall time is noisy.
        self.cpu: list[float] = []
        self.rss_mb = 0.0

    def started(self, loop: Loop) -> None:
        self.ends.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def finished(self, loop: Loop, experiment: Experiment) -> None:
        self.ends.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def stopped(self, loop: Loop, outcome: Outcome) -> None:
        status = Path("/proc/self/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.rss_mb = int(fields["VmRSS"].split()[0]) / 1024


def _floor_ms(command: str, runs: int = 200) -> float:
    """The bare command's cost per run (median), through /bin/sh as the loop runs it."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, shell=True, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return 1000 * statistics.median(samples)


def _spec_text(kind: str, n: int) -> str:
    """`tpe-window` is TPE fitted on the 1,000 most recent trials (the remedy for its linear cost)."""
    if kind == "tpe-window":
        return SCALE_SPEC.format(kind=kind, use="tpe", options="options = { window = 1000 }", n=n)
    return SCALE_SPEC.format(kind=kind, use=kind, options="", n=n)


def _warm_up(kind: str, root: Path) -> None:
    """A 5-experiment study first, so one-time costs (imports, first allocations) stay out of the windows."""
    if kind == "code":
        return
    root.mkdir(parents=True, exist_ok=True)
    (root / "autoresearch.toml").write_text(_spec_text(kind, 5).replace("scale-", "warm-"))
    Loop(load_spec(root)).run()
    shutil.rmtree(root, ignore_errors=True)


def scale_study(kind: str, n: int, root: Path) -> dict[str, Any]:
    """Run one study of N experiments in this process; its windows, floor and memory as JSON-able data."""
    clock = _Clock()
    if kind == "code":
        make_repo(root, 1000)
        spec = spec_from_dict(
            {
                "study": {"name": "scale-code"},
                "run": {"command": COMMAND},
                "metric": {"name": "loss"},
                "code": {"editable": ["pkg00/module_0000.py"]},
                "proposer": {"use": "script:unused"},
                "budget": {"experiments": n},
                "sandbox": {"kind": "none"},
            },
            root=root,
        )
        floor_command, loop = COMMAND, Loop(spec, proposer=_EditProposer(), observer=clock)
    else:
        root.mkdir(parents=True, exist_ok=True)
        (root / "autoresearch.toml").write_text(_spec_text(kind, n))
        floor_command, loop = "echo x=1; echo y=2; echo id=3", Loop(load_spec(root), observer=clock)
    _warm_up(kind, root.parent / f"warm-{kind}")
    before = _floor_ms(floor_command)
    loop.run()
    floor = (before + _floor_ms(floor_command)) / 2
    ends = clock.ends
    windows = []
    for end in sorted({WINDOW + 1, *range(2 * WINDOW, len(ends), WINDOW), len(ends) - 1}):
        if end - WINDOW >= 1:  # experiment 1 is the baseline: the first window is experiments 2-101
            per = [1000 * (b - a) for a, b in itertools.pairwise(ends[end - WINDOW : end + 1])]
            cpu_ms = 1000 * (clock.cpu[end] - clock.cpu[end - WINDOW]) / WINDOW
            windows.append(
                {"last": end, "mean_ms": statistics.fmean(per), "median_ms": statistics.median(per), "cpu_ms": cpu_ms}
            )
    n_done = len(ends) - 1
    return {"kind": kind, "n": n_done, "floor_ms": floor, "windows": windows, "rss_mb": clock.rss_mb}


def _print_scale(result: dict[str, Any], marks: list[int]) -> None:
    floor, windows = result["floor_ms"], result["windows"]
    first, last = windows[0], windows[-1]
    shown = [first, *(w for w in windows if w["last"] in marks and w is not first and w is not last), last]
    print(f"\n{result['kind']}: {result['n']} experiments, bare command {floor:.2f} ms, RSS {result['rss_mb']:.0f} MB")
    print(f"{'experiments':>14} {'ms/exp':>8} {'median':>8} {'overhead ms/exp':>16} {'loop CPU ms/exp':>16}")
    for w in shown:
        span = f"{w['last'] - WINDOW + 1:,}-{w['last']:,}"
        print(f"{span:>14} {w['mean_ms']:8.2f} {w['median_ms']:8.2f} {w['mean_ms'] - floor:16.2f} {w['cpu_ms']:16.2f}")
    mean = (last["mean_ms"] - floor) / max(first["mean_ms"] - floor, 1e-9)
    median = (last["median_ms"] - floor) / max(first["median_ms"] - floor, 1e-9)
    cpu = last["cpu_ms"] / max(first["cpu_ms"], 1e-9)
    print(f"last window vs first: overhead {mean:.2f}x (means), {median:.2f}x (medians); loop CPU {cpu:.2f}x")


def _timed_cli(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autoresearch", *args], check=True, capture_output=True)
    return 1000 * (time.perf_counter() - start)


def check_views(root: Path) -> None:
    """`status`, `log`, `report` and the dashboard on a study the scale run left."""
    from report_scale import dashboard_rows

    spec = load_spec(root)
    print(f"\nviews of {spec.study_dir} (ms; CLI figures include starting Python):")
    print(f"  autoresearch status  {_timed_cli(['status', str(root)]):9.1f}")
    print(f"  autoresearch log     {_timed_cli(['log', str(root)]):9.1f}")
    print(f"  autoresearch report  {_timed_cli(['report', str(root)]):9.1f}  (target < 10000)")
    for name, ms, target in dashboard_rows(spec):
        print(f"  {name:48} {ms:9.1f}  {f'(target {target})' if target else ''}")


def scale(args: argparse.Namespace) -> None:
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="overhead-scale-"))
    marks = [1_000, 2_000, 5_000]
    kinds = [(kind, args.experiments) for kind in args.samplers.split(",") if kind] + (
        [("code", args.code)] if args.code else []
    )
    print(f"flat cost per experiment, windows of {WINDOW}, each study in its own process pinned to one core")
    print(f"python {platform.python_version()}, optuna {optuna.__version__}, {platform.platform()}")
    for kind, n in kinds:
        root = keep / kind
        shutil.rmtree(root, ignore_errors=True)
        out = subprocess.run(
            [sys.executable, __file__, "--one", kind, str(n), str(root)], check=True, capture_output=True, text=True
        ).stdout
        _print_scale(json.loads(out.strip().splitlines()[-1]), marks)
    if "random" in args.samplers.split(","):
        check_views(keep / "random")
    print(f"\nstudies left in {keep}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=200, help="experiments for the side-by-side table")
    parser.add_argument("--scale", action="store_true", help="cost per experiment early and late in big studies")
    parser.add_argument("--experiments", type=int, default=10_000, help="params-mode study size (--scale)")
    parser.add_argument("--code", type=int, default=2_000, help="code-mode study size (--scale; 0: skip)")
    parser.add_argument("--samplers", default="random,cmaes,tpe", help="params-mode proposers (--scale)")
    parser.add_argument("--keep", help="folder to leave the studies in (--scale; default: a new temp folder)")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "N", "ROOT"), help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", action="store_true", help="bwrap's cost per experiment against kind none")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    if args.one:
        kind, count, root = args.one
        print(json.dumps(scale_study(kind, int(count), Path(root))))
        return
    if args.scale:
        scale(args)
        return
    if args.sandbox:
        sandbox_comparison(args.n)
        return
    n = args.n
    with tempfile.TemporaryDirectory() as temp:
        rows = [
            ("bare subprocess.run loop", bare(n)),
            ("optuna study.optimize", optuna_optimize(n)),
            ("autoresearch, params mode", autoresearch_params(n, Path(temp) / "params")),
            ("autoresearch, code mode (1,000 files)", autoresearch_code(n, Path(temp) / "code")),
        ]
    floor = rows[0][1] / n
    print(f"overhead per experiment, {n} experiments of `{COMMAND}`, pinned to one core")
    print(f"python {platform.python_version()}, optuna {optuna.__version__}, {platform.platform()}")
    print(f"{'loop':40} {'exp/s':>8} {'ms/exp':>8} {'vs bare':>8} {'overhead ms/exp':>16}")
    for name, seconds in rows:
        per = seconds / n
        print(f"{name:40} {n / seconds:8.1f} {1000 * per:8.2f} {per / floor:8.2f}x {1000 * (per - floor):16.2f}")
    params_overhead = 1000 * (rows[2][1] / n - floor)
    code_overhead = 1000 * (rows[3][1] / n - floor)
    print(f"params mode: {params_overhead:.2f} ms/experiment above the bare loop (target < 10 ms)")
    print(f"code mode: {code_overhead:.2f} ms/experiment above the bare loop, git included (target < 100 ms)")
    try:
        from git_overhead import measure

        parts = measure(n_files=1000, iterations=30)
        print("git alone, 1,000 files: " + ", ".join(f"{k} {v:.1f} ms" for k, v in parts.items()))
    except ImportError:
        pass


if __name__ == "__main__":
    main()
