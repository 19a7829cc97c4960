"""examples/triton_kernel: a Triton matmul tuned in code and params mode, run for real in Triton's CPU
interpreter (TRITON_INTERPRET=1): the correctness guard is what is tested here; timings there mean nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import cli
from tests.test_examples import rows, tracked_copy

INTERPRET = {"TRITON_INTERPRET": "1"}


def strict(spec: str) -> str:
    # The interpreter's timings are noise: one run per candidate is enough to test the pipeline.
    assert 'rule = "paired"' in spec
    return spec.replace('rule = "paired"', 'rule = "strict"')


def test_triton_code_mode_guard_passes_the_kernel_and_rejects_one_without_its_masks(tmp_path: Path) -> None:
    root = tracked_copy("triton_kernel", tmp_path / "triton")
    spec = strict((root / "autoresearch.toml").read_text()).replace("experiments = 8", "experiments = 3")
    (root / "autoresearch.toml").write_text(spec)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "ex"], cwd=root, check=True)
    result = cli("run", str(root), timeout=900, env_extra=INTERPRET)
    assert result.returncode == 0, result.stderr
    baseline, no_mask, tiles = rows(root / ".autoresearch" / "triton-matmul-code")
    assert baseline.decision == "baseline" and baseline.objective is not None and baseline.objective > 0
    assert {"ms", "torch_ms", "speedup_vs_torch", "tflops"} <= set(baseline.metrics)
    assert "cpu (Triton interpreter)" in (Path(baseline.log_dir) / "stdout.log").read_text()
    # Dropping the K masks reads past the matrices whenever K is not a multiple of BLOCK_K.
    assert no_mask.strategy == "drop-k-mask" and no_mask.decision == "rejected"
    assert "guard correctness failed" in (no_mask.reason or "") and "wrong result" in (no_mask.reason or "")
    # A correct change passes the guard; kept or not is up to its (here meaningless) time.
    assert tiles.strategy == "larger-tiles" and tiles.decision in ("kept", "reverted"), tiles.reason


def test_triton_params_mode_searches_launch_settings_under_the_guard(tmp_path: Path) -> None:
    root = tracked_copy("triton_kernel", tmp_path / "triton")
    spec = strict((root / "params.toml").read_text()).replace('use = "tpe"', 'use = "random"')
    (root / "params.toml").write_text(spec.replace("experiments = 40", "experiments = 3"))
    result = cli("run", str(root / "params.toml"), timeout=900, env_extra=INTERPRET)
    assert result.returncode == 0, result.stderr
    experiments = rows(root / ".autoresearch" / "triton-matmul-params")
    assert len(experiments) == 3 and experiments[0].decision == "baseline"
    assert experiments[0].params == {
        "BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8, "num_warps": 4, "num_stages": 3
    }  # fmt: skip
    # Every tile shape is correct on the awkward shapes (the kernel masks), so none is rejected.
    assert all(e.decision in ("baseline", "kept", "reverted") for e in experiments), [e.reason for e in experiments]
    assert all(e.objective is not None and e.objective > 0 for e in experiments)
