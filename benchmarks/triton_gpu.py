"""Runs examples/triton_kernel's two studies on a CUDA GPU and prints the figures for its README.

The params study (launch settings, TPE) and the code study (the edits in edits/) run on a copy of the
example, each as `autoresearch run` would; then the best of each is re-measured against its baseline
(`autoresearch confirm`). Printed: the GPU, then per study the baseline and best `ms`, `torch_ms`,
`speedup_vs_torch`, TFLOP/s and how many candidates the guards rejected, as a Markdown table.

Needs a CUDA GPU and the kernels extra (`pip install -e '.[kernels]'`): without one it says so and exits 2.

    python benchmarks/triton_gpu.py [params_experiments]   # default 40, as params.toml
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autoresearch.store.database import Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "triton_kernel"


def cuda_missing() -> str:
    """Why this machine cannot run the studies, or "" when it can."""
    try:
        import torch
        import triton  # noqa: F401
    except ImportError:
        return "torch or triton is not installed (pip install -e '.[kernels]')"
    return "" if torch.cuda.is_available() else "PyTorch sees no CUDA device"


def autoresearch(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "autoresearch", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"autoresearch {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def summary(study_dir: Path, label: str) -> str:
    """One Markdown row: the baseline against the best correct candidate of the study."""
    store = Store(study_dir, create=False)
    try:
        rows = store.experiments()
    finally:
        store.close()
    measured = [r for r in rows if r.decision in ("baseline", "kept", "reverted") and r.objective is not None]
    baseline = next(r for r in rows if r.decision == "baseline")
    best = min(measured, key=lambda r: r.objective)
    rejected = sum(1 for r in rows if r.decision == "rejected")
    failed = sum(1 for r in rows if r.status != "done")
    return (
        f"| {label} | {len(rows)} | {baseline.metrics['ms']:.4f} | {best.metrics['ms']:.4f} | "
        f"{best.metrics['torch_ms']:.4f} | {best.metrics['speedup_vs_torch']:.3f} | {best.metrics['tflops']:.1f} | "
        f"{rejected} | {failed} |"
    )


def main() -> None:
    missing = cuda_missing()
    if missing:
        print(f"triton_gpu: {missing}; this benchmark needs a CUDA GPU", file=sys.stderr)
        raise SystemExit(2)
    import torch

    experiments = sys.argv[1] if len(sys.argv) > 1 else "40"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "triton_kernel"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".autoresearch", "__pycache__"))
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-qm", "triton_kernel"], cwd=root, check=True)
        autoresearch("run", "params.toml", "--experiments", experiments, cwd=root)
        params_confirm = autoresearch("confirm", "params.toml", cwd=root)
        autoresearch("run", ".", cwd=root)
        code_confirm = autoresearch("confirm", ".", cwd=root)
        print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
        print()
        columns = ["study", "experiments", "baseline ms", "best ms", "torch_ms", "speedup_vs_torch", "TFLOP/s"]
        print("| " + " | ".join([*columns, "rejected", "failed"]) + " |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print(summary(root / ".autoresearch" / "triton-matmul-params", "params.toml (launch settings)"))
        print(summary(root / ".autoresearch" / "triton-matmul-code", "autoresearch.toml (kernel source)"))
        print()
        print("params.toml, autoresearch confirm:\n" + params_confirm)
        print("autoresearch.toml, autoresearch confirm:\n" + code_confirm)


if __name__ == "__main__":
    main()
