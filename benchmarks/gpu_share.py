"""Experiments per hour on examples/gpu_mlp at 1, 0.5 and 0.25 GPU per experiment (`run.gpus`).

A small model leaves most of a big GPU idle; sharing the GPU (k experiments on each, each kept to
its memory share) should run more experiments per hour. Each setting runs the same study: the same
number of experiments, all of the same cost (fixed width, depth and steps; the random proposer varies
only lr and wd), with `workers` = GPUs x experiments per GPU. Ratios are against 1 GPU per experiment,
measured in the same run.

Needs a CUDA GPU (nvidia-smi and PyTorch built with CUDA): without one it says so and exits 2.

    python benchmarks/gpu_share.py [experiments_per_setting]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from autoresearch.engine.loop import Loop
from autoresearch.execute.resources import detect_gpus
from autoresearch.spec import spec_from_dict
from autoresearch.store.database import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gpu_mlp"
SHARES = (1, 0.5, 0.25)


def cuda_missing() -> str:
    """Why this machine cannot run the benchmark, or "" when it can."""
    if not detect_gpus():
        return "nvidia-smi lists no GPU"
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (pip install torch)"
    if not torch.cuda.is_available():
        return "PyTorch sees no CUDA device"
    return ""


def experiments_per_hour(folder: Path, share: float, gpus: int, n: int) -> tuple[float, int]:
    """(experiments per hour over the study's wall time, workers) for one study at SHARE GPU each."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".autoresearch"))
    data = tomllib.loads((EXAMPLE / "autoresearch.toml").read_text())
    workers = round(gpus / share)
    data["study"]["name"] = f"gpu-share-{share:g}"
    data["run"] |= {"gpus": share, "workers": workers}
    data["params"] |= {"width": {"choices": [256]}, "depth": {"choices": [2]}, "steps": {"choices": [1500]}}
    data["proposer"] = {"use": "random"}
    data["budget"] = {"experiments": n}
    spec = spec_from_dict(data, root=folder)
    Loop(spec).run()
    store = Store(spec.study_dir, create=False)
    rows = store.experiments()
    store.close()
    failed = [r.id for r in rows if r.status != "done"]
    if failed:
        sys.exit(f"experiments {failed} did not finish at run.gpus = {share:g}; see {spec.study_dir}")
    wall = max(r.finished_at or 0.0 for r in rows) - min(r.started_at or 0.0 for r in rows)
    return len(rows) / wall * 3600, workers


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    missing = cuda_missing()
    if missing:
        print(f"gpu_share.py needs a CUDA GPU and {missing}; run it on a GPU machine.", file=sys.stderr)
        sys.exit(2)
    gpus = len(detect_gpus())
    results = {}
    with tempfile.TemporaryDirectory() as temp:
        for share in SHARES:
            results[share] = experiments_per_hour(Path(temp) / f"share-{share:g}", share, gpus, n)
    print(f"examples/gpu_mlp, {n} experiments per setting, {gpus} GPU(s)")
    print(f"{'run.gpus':>9} {'workers':>8} {'experiments/h':>14} {'vs 1 GPU':>9}")
    for share, (rate, workers) in results.items():
        print(f"{share:>9g} {workers:>8} {rate:>14.0f} {rate / results[1][0]:>8.2f}x")


if __name__ == "__main__":
    main()
