"""Synthetic studies written through the real Store API, for tests, benchmarks and demos.

The history looks like a real one (a baseline, mostly reverted candidates, a few kept improvements,
failures with varied reasons, LLM spend, log folders) so that reports and the dashboard are exercised
on realistic shapes, not on toy rows.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from autoresearch.core.direction import better
from autoresearch.core.experiment import INCUMBENT, Decision
from autoresearch.store.database import Store

STRATEGIES = ("explore", "exploit", "ablate", "combine")
PARAMS = {
    "lr": {"low": 1e-4, "high": 0.3, "log": True},
    "hidden": {"choices": [32, 64, 128, 256]},
    "dropout": {"low": 0.0, "high": 0.5},
    "layers": {"low": 1, "high": 6},
}
_FAILURES = (
    "timeout after {n}s",
    "exit code 1: CUDA out of memory at step {n}",
    "metric 'val_loss' not found in output",
    "exit code 137 (killed, memory limit {n} MiB)",
)
_REJECTIONS = ("guard 'tests' failed (exit 1)", "protected file prepare.py was modified")


def synthetic_spec_dict(
    name: str = "synthetic", *, mode: str = "params", direction: str = "minimize"
) -> dict[str, Any]:
    """A spec dict matching the synthetic history, for `spec_from_dict`."""
    data: dict[str, Any] = {
        "study": {"name": name, "direction": direction},
        "run": {"command": "python train.py"},
        "metric": {"name": "val_loss"},
    }
    if mode == "params":
        data["params"] = PARAMS
    else:
        data["code"] = {"editable": ["train.py"]}
    return data


class SyntheticWriter:
    """Appends plausible experiments to a store, one `step()` at a time (the dashboard test's writer)."""

    def __init__(
        self,
        store: Store,
        *,
        mode: str = "params",
        direction: str = "minimize",
        seed: int = 0,
        holdout: bool = True,
        diverge_after: int | None = None,
        logs: bool = True,
        start_time: float = 1_700_000_000.0,
    ) -> None:
        self.store = store
        self.mode = mode
        self.direction = direction
        self.rng = random.Random(seed)
        self.holdout = holdout
        self.diverge_after = diverge_after  # after this many kept, holdout gets worse (a divergence)
        self.logs = logs
        self.clock = start_time
        self.best: float | None = None
        self.best_id: int | None = None
        self.best_holdout: float | None = None
        self.n_kept = 0
        self.n = 0

    def _params(self) -> dict[str, Any]:
        r = self.rng
        return {
            "lr": math.exp(r.uniform(math.log(1e-4), math.log(0.3))),
            "hidden": r.choice([32, 64, 128, 256]),
            "dropout": r.uniform(0.0, 0.5),
            "layers": r.randint(1, 6),
        }

    def _objective(self, params: dict[str, Any]) -> float:
        # A smooth bowl in lr and dropout plus a small effect of width, with noise; "lr" matters most.
        value = 0.3 + 0.08 * (math.log10(params["lr"]) + 2.0) ** 2 + 0.2 * (params["dropout"] - 0.15) ** 2
        value += 0.01 * abs(math.log2(params["hidden"]) - 7) + self.rng.gauss(0, 0.01)
        return value if self.direction == "minimize" else 1.0 - value

    def _better(self, a: float, b: float) -> bool:
        return better(a, b, self.direction)

    def step(self) -> int:
        """Write one finished experiment; returns its id."""
        r = self.rng
        self.n += 1
        params = self._params()
        first = self.best is None
        strategy = None if first else r.choice(STRATEGIES)
        rationale = (
            "baseline"
            if first
            else (f"{strategy}: try lr={params['lr']:.2g}, hidden={params['hidden']}, dropout={params['dropout']:.2f}")
        )
        diff = None
        if self.mode == "code":
            diff = (
                "--- a/train.py\n+++ b/train.py\n@@ -10,3 +10,3 @@\n"
                f" model = MLP()\n-lr = 0.01\n+lr = {params['lr']:.5f}\n epochs = 10\n"
            )
        start = self.clock
        duration = r.uniform(20, 90)
        self.clock += duration + r.uniform(1, 5)
        exp = self.store.start_experiment(
            proposal={"params": params} if self.mode == "params" else {"edits": diff, "format": "diff"},
            parent_id=self.best_id,
            proposer="synthetic" if first else "llm:fake/model",
            strategy=strategy,
            rationale=rationale,
            params=params if self.mode == "params" else None,
            diff=diff,
            created_at=start,
            started_at=start,
        )
        fields: dict[str, Any] = {
            "duration": duration,
            "tokens_in": 0 if first else r.randint(800, 3000),
            "tokens_out": 0 if first else r.randint(100, 600),
            "cost_usd": 0.0 if first else round(r.uniform(0.001, 0.01), 5),
        }
        if self.logs:
            log_dir = self.store.study_dir / "logs" / f"{exp.id:06d}"
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / "stdout.log").write_text(
                "".join(f"epoch {e} loss {1 / (e + 1):.4f}\n" for e in range(5)) + "val_loss: done\n"
            )
            (log_dir / "stderr.log").write_text("warning: synthetic run\n")
            if not first:
                (log_dir / "prompt.json").write_text('{"messages": [{"role": "user", "content": "improve it"}]}')
                (log_dir / "response.md").write_text(f"I will {rationale}.")
            fields["log_dir"] = str(log_dir)
        roll = r.random()
        if not first and roll < 0.05:
            reason = r.choice(_FAILURES).format(n=r.randint(100, 9000))
            self.store.finish_experiment(exp.id, decision=Decision.FAILED, reason=reason, exit_code=1, **fields)
        elif not first and roll < 0.08:
            reason = r.choice(_REJECTIONS)
            self.store.finish_experiment(exp.id, decision=Decision.REJECTED, reason=reason, exit_code=0, **fields)
        else:
            objective = self._objective(params)
            metrics = {"val_loss": objective, "train_loss": objective * 0.8}
            if first:
                decision, reason = Decision.BASELINE, Decision.BASELINE
            elif self.best is not None and self._better(objective, self.best):
                decision, reason = Decision.KEPT, f"better than #{self.best_id} by more than the noise"
            else:
                decision, reason = Decision.REVERTED, "not better than the best"
            holdout = None
            if self.holdout and decision in INCUMBENT:
                diverging = self.diverge_after is not None and self.n_kept >= self.diverge_after
                prev = self.best_holdout if self.best_holdout is not None else objective
                if diverging:
                    value = prev + 0.02 if self.direction == "minimize" else prev - 0.02
                else:
                    value = objective + r.gauss(0, 0.005)
                holdout = {"val_loss": value}
                self.best_holdout = value
            if decision != Decision.REVERTED:
                self.best = objective
                self.best_id = exp.id
                self.n_kept += decision == Decision.KEPT
            self.store.finish_experiment(
                exp.id,
                decision=decision,
                reason=reason,
                metrics=metrics,
                objective=objective,
                holdout=holdout,
                exit_code=0,
                **fields,
            )
        self.store.update(exp.id, finished_at=start + duration)
        return exp.id


def make_study(
    study_dir: Path,
    n: int,
    *,
    mode: str = "params",
    direction: str = "minimize",
    seed: int = 0,
    holdout: bool = True,
    diverge_after: int | None = None,
    logs: bool = True,
) -> Store:
    """A new study of N finished experiments at STUDY_DIR; returns its open Store."""
    store = Store(study_dir)
    store.set_meta("direction", direction)
    writer = SyntheticWriter(
        store,
        mode=mode,
        direction=direction,
        seed=seed,
        holdout=holdout,
        diverge_after=diverge_after,
        logs=logs,
    )
    for _ in range(n):
        writer.step()
    return store
