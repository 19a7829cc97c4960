"""Throughput with parallel workers: locally, with the Ray executor on a local Ray cluster, and with the
Slurm executor on the one-node Slurm cluster of this machine (.ci/slurm.sh).

Every experiment is `sleep S; echo loss: {x}` (S = 1 s by default), proposed by the `random` sampler,
with the full loop (SQLite store, params file, logs). Each row runs a fresh study with 1, 2 or 4
workers and counts the experiments that started after the baseline (which always runs alone), from
the baseline's end to the last experiment's end: the steady-state rate a long study sees.

    experiments/minute = experiments / seconds * 60
    efficiency         = throughput / (workers x single-worker local throughput)

The Ray rows use a local cluster started by the executor (`ray_address` empty; one logical CPU per
running experiment, 128 MB object store, no dashboard); a warm-up study starts its workers first, so
the rows measure running experiments, not starting Ray. Target on a 2-core machine: efficiency above
0.9 locally and above 0.8 with Ray.

The Slurm rows submit each experiment as a job (`sbatch`, followed with `squeue` every 0.1 s), and with
`submit = "srun"`, which Slurm allocates when it is asked; `slurm-pilot` runs them on pilots (`mode =
"pilot"`: one long-lived Slurm job per worker, started when the study first needs it); 1 and 2 workers,
as the node has room for two one-CPU jobs. They are skipped when no Slurm cluster answers here. Target:
above 0.8 at 2 workers.

    python benchmarks/throughput.py [ROUNDS] [SECONDS] [EXECUTORS]
    (EXECUTORS: e.g. local,slurm: all three Slurm rows; or local,slurm-pilot: that row alone)
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from autoresearch.engine.loop import Loop
from autoresearch.spec import spec_from_dict
from autoresearch.store.database import Store

WORKERS = (1, 2, 4)
SLURM_WORKERS = (1, 2)
# How each Slurm row submits its jobs, and how often it looks at the queue.
SLURM = {
    "slurm": {"submit": "sbatch", "poll": "0.1s"},
    "slurm-srun": {"submit": "srun", "poll": "0.1s"},
    "slurm-pilot": {"mode": "pilot", "poll": "0.1s"},
}


def study(root: Path, workers: int, experiments: int, seconds: float, executor: str) -> dict[str, Any]:
    run: dict[str, Any] = {"command": f"sleep {seconds:g}; echo loss: {{x}}", "workers": workers}
    run |= {"executor": "slurm", "slurm": SLURM[executor]} if executor in SLURM else {"executor": executor}
    return {
        "study": {"name": f"{executor}-{workers}"},
        "run": run,
        "metric": {"name": "loss"},
        "params": {"x": {"low": -5.0, "high": 5.0}},
        "proposer": {"use": "random"},
        "budget": {"experiments": experiments},
    }


def measure(base: Path, workers: int, rounds: int, seconds: float, executor: str) -> tuple[int, float]:
    """(experiments after the baseline, seconds from the baseline's end to the last end)."""
    root = base / f"{executor}-{workers}"
    root.mkdir()
    spec = spec_from_dict(study(root, workers, 1 + rounds * workers, seconds, executor), root=root)
    Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    try:
        rows = store.experiments()
    finally:
        store.close()
    assert all(r.status == "done" and r.objective is not None for r in rows), [r.reason for r in rows]
    baseline_end = rows[0].finished_at or 0.0
    last_end = max(r.finished_at or 0.0 for r in rows)
    return len(rows) - 1, last_end - baseline_end


def slurm_cluster() -> str | None:
    """Why there are no Slurm rows, or None when a Slurm node answers here."""
    if shutil.which("sinfo") is None:
        return "no Slurm commands here (.ci/slurm.sh starts a one-node cluster)"
    done = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0 or not {"idle", "mix"} & set(done.stdout.split()):
        return f"no idle Slurm node ({done.stderr.strip() or done.stdout.strip()})"
    return None


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    executors = sys.argv[3].split(",") if len(sys.argv) > 3 else ["local", "ray", "slurm"]
    results: list[tuple[str, int, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="ar-throughput-") as temp:
        base = Path(temp)  # the one-node Slurm cluster shares this machine's /tmp
        for workers in WORKERS:
            n, elapsed = measure(base, workers, rounds, seconds, "local")
            results.append(("local", workers, n, elapsed))
        try:
            import ray  # noqa: F401
        except ImportError:
            print("Ray is not installed (pip install 'autoresearch[ray]'): no Ray rows")
        if "ray" in executors and "ray" in sys.modules:
            warm = base / "warm"
            warm.mkdir()
            started = time.perf_counter()
            # Experiments long enough that every worker process is started once, as in a long study.
            Loop(spec_from_dict(study(warm, max(WORKERS), 1 + 2 * max(WORKERS), seconds, "ray"), root=warm)).run()
            took = time.perf_counter() - started
            print(f"Ray: local cluster started and {max(WORKERS)} worker processes warmed up in {took:.1f} s")
            for workers in WORKERS:
                n, elapsed = measure(base, workers, rounds, seconds, "ray")
                results.append(("ray", workers, n, elapsed))
        asked = [executor for executor in SLURM if executor in executors or "slurm" in executors]
        missing = slurm_cluster() if asked else "not asked for"
        if missing is None:
            for executor in asked:
                for workers in SLURM_WORKERS:
                    n, elapsed = measure(base, workers, rounds, seconds, executor)
                    results.append((executor, workers, n, elapsed))
        else:
            print(f"no Slurm rows: {missing}")
    single = next(n / t for mode, w, n, t in results if mode == "local" and w == 1)
    print(
        f"\n{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"experiments of `sleep {seconds:g}`, {rounds} rounds per row after the baseline\n"
    )
    print(f"{'executor':<12} {'workers':>7} {'experiments':>11} {'seconds':>8} {'exp/min':>8} {'efficiency':>10}")
    for mode, workers, n, elapsed in results:
        rate = n / elapsed
        print(f"{mode:<12} {workers:>7} {n:>11} {elapsed:>8.2f} {rate * 60:>8.1f} {rate / (workers * single):>10.2f}")
    print("\nefficiency = throughput / (workers x local single-worker throughput)")


if __name__ == "__main__":
    main()
