"""A synthetic objective whose true value never improves, measured with noise, over 100 experiments."""

from __future__ import annotations

import sys
from pathlib import Path

from autoresearch.loop import Loop
from autoresearch.spec import spec_from_dict

# A fresh N(0, 1) draw per (experiment, seed): deterministic, so the counts below are reproducible.
NOISE = (
    "import os, random\n"
    "key = os.environ['AUTORESEARCH_EXPERIMENT_ID'] + '-' + os.environ['AUTORESEARCH_SEED']\n"
    "print('loss:', random.Random(key).gauss(0.0, 1.0))\n"
)


def kept_over_noise(folder: Path, noise: dict[str, object]) -> tuple[int, int]:
    folder.mkdir()
    (folder / "noise.py").write_text(NOISE)
    spec = spec_from_dict(
        {
            "study": {"name": "noise"},
            "run": {"command": f"{sys.executable} -S noise.py", "repeats": 3},
            "metric": {"name": "loss"},
            "params": {"x": {"low": 0.0, "high": 1.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": 101},
            "noise": noise,
        },
        root=folder,
    )
    loop = Loop(spec)
    loop.run()
    assert len(loop.history) == 101
    kept = sum(1 for e in loop.history if e.decision == "kept")
    return kept, sum(1 for e in loop.history if e.extra.get("strict_keep"))


def test_significant_keeps_nothing_where_strict_keeps_many(tmp_path: Path) -> None:
    strict, _ = kept_over_noise(tmp_path / "strict", {"rule": "strict"})
    significant, would = kept_over_noise(
        tmp_path / "significant", {"rule": "significant", "baseline_repeats": 5, "recheck_best": True}
    )
    print(f"\nover 100 noise-only candidates: strict kept {strict}, significant kept {significant} ", end="")
    print(f"(where the strict rule would have kept {would} against the same incumbent)")
    assert significant == 0
    assert strict >= 2 and would >= 20
