"""How many candidates each keep rule keeps when nothing can really improve.

The experiment prints `loss: N(0, 1)`: its true value is the same for every candidate, only the
measurement is noisy. A `random` sampler proposes a dummy parameter; each candidate is measured
`repeats` times (different seeds). Every kept candidate is a false discovery. Rules compared:

- strict: any improvement of the mean (karpathy/autoresearch's rule);
- significant: the gain must exceed 2 combined standard errors (baseline measured 5 times);
- significant + recheck_best: as above, and a kept candidate is re-measured with the previous best
  on fresh seeds and kept only if it still wins.

    python benchmarks/noise.py [EXPERIMENTS] [REPEATS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from autoresearch.loop import Loop
from autoresearch.spec import spec_from_dict

# Deterministic noise: a fresh N(0, 1) draw for each (experiment, seed), so that runs are reproducible.
NOISE = (
    "import os, random\n"
    "key = os.environ['AUTORESEARCH_EXPERIMENT_ID'] + '-' + os.environ['AUTORESEARCH_SEED']\n"
    "print('loss:', random.Random(key).gauss(0.0, 1.0))\n"
)

RULES: dict[str, dict[str, object]] = {
    "strict": {"rule": "strict"},
    "significant": {"rule": "significant", "baseline_repeats": 5},
    "significant + recheck_best": {"rule": "significant", "baseline_repeats": 5, "recheck_best": True},
}


def count_kept(noise: dict[str, object], experiments: int, repeats: int, folder: Path) -> tuple[int, int]:
    """(kept, what the strict rule would have kept) over EXPERIMENTS candidates of pure noise."""
    (folder / "noise.py").write_text(NOISE)
    spec = spec_from_dict(
        {
            "study": {"name": "noise", "seed": 0},
            "run": {"command": f"{sys.executable} -S noise.py", "repeats": repeats, "timeout": 30},
            "metric": {"name": "loss"},
            "params": {"x": {"low": 0.0, "high": 1.0}},
            "proposer": {"use": "random"},
            "budget": {"experiments": experiments + 1},
            "noise": noise,
        },
        root=folder,
    )
    loop = Loop(spec)
    loop.run()
    kept = sum(1 for e in loop.history if e.decision == "kept")
    strict = sum(1 for e in loop.history if e.extra.get("strict_keep"))
    return kept, strict


def main() -> None:
    experiments = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"noise benchmark: {experiments} candidates of pure noise (loss ~ N(0, 1)), {repeats} repeats each")
    print(f"{'rule':<28} {'kept':>5} {'strict would keep':>18} {'seconds':>8}")
    for name, noise in RULES.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            kept, strict = count_kept(noise, experiments, repeats, Path(tmp))
            print(f"{name:<28} {kept:>5} {strict:>18} {time.monotonic() - start:>8.1f}")


if __name__ == "__main__":
    main()
