"""How much of the wall time an experiment is running, with an LLM proposer, pipelining on and off.

A local server speaking the OpenAI protocol (tests/fake_llm.py) answers every proposal after a fixed
delay; each experiment takes a fixed time. Utilization = time in which an experiment was running /
wall time of the study. Target: above 95% with pipelining.

    python benchmarks/utilization.py [llm_delay_s] [experiment_s] [experiments]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_llm import FakeLLMServer, Reply, Request

from autoresearch.engine.loop import Loop
from autoresearch.spec import spec_from_dict
from autoresearch.store.database import Store


def busy_fraction(study_dir: Path) -> tuple[float, float]:
    """(fraction of the study's wall time with an experiment running, wall time)."""
    store = Store(study_dir, create=False)
    rows = store.experiments()
    store.close()
    intervals = sorted((r.started_at or 0.0, r.finished_at or 0.0) for r in rows)
    busy, end = 0.0, intervals[0][0]
    for start, finish in intervals:  # union of the running intervals
        start = max(start, end)
        if finish > start:
            busy += finish - start
            end = finish
    wall = max(f for _, f in intervals) - min(s for s, _ in intervals)
    return busy / wall, wall


def run_study(root: Path, url: str, pipeline: bool, experiment_s: float, n: int) -> tuple[float, float]:
    spec = spec_from_dict(
        {
            "study": {"name": "utilization", "goal": "Lower the loss."},
            "run": {"command": f"sleep {experiment_s}; echo loss={{x}}"},
            "metric": {"name": "loss"},
            "params": {"x": {"low": 0.0, "high": 1000.0, "default": 500.0}},
            "proposer": {
                "use": "llm:bench/model",
                "pipeline": pipeline,
                "options": {"base_url": url, "lessons_every": 0},
            },
            "budget": {"experiments": n},
        },
        root=root,
    )
    Loop(spec).run()
    return busy_fraction(spec.study_dir)


def main() -> None:
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    experiment_s = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    server = FakeLLMServer()
    counter = iter(range(1, 10_000))

    def answer(request: Request) -> Reply:
        x = next(counter)  # a new point each time, so no answer is a repeat
        return Reply(text=json.dumps({"rationale": f"try x={x}", "params": {"x": float(x)}}), delay=delay)

    server.responder = answer
    results = {}
    try:
        with tempfile.TemporaryDirectory() as temp:
            for pipeline in (False, True):
                start = time.perf_counter()
                fraction, wall = run_study(Path(temp) / str(pipeline), server.openai_url, pipeline, experiment_s, n)
                results[pipeline] = (fraction, wall, time.perf_counter() - start)
    finally:
        server.close()
    print(f"LLM answers after {delay:g} s, experiments take {experiment_s:g} s, {n} experiments per study")
    print(f"{'pipelining':12} {'utilization':>12} {'study wall s':>13}")
    for pipeline, (fraction, wall, _) in results.items():
        print(f"{'on' if pipeline else 'off':12} {100 * fraction:11.1f}% {wall:13.1f}")
    print(f"target: above 95% with pipelining; measured {100 * results[True][0]:.1f}%")


if __name__ == "__main__":
    main()
