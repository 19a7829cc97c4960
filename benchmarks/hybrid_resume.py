"""A hybrid study begun while `hybrid` was a search policy resumes with this checkout as if never stopped.

With the src/ of an older commit (default 3cf865d, before hybrid became a proposer kind), through the
real command line: one study of the bowl runs straight to the end, `[search] policy = "hybrid"` with
CMA-ES and an LLM (a local fake OpenAI-compatible server whose answer depends only on the sampler's state
in the prompt) taking half the candidates. Two more stop halfway with that commit, then this checkout
resumes them: one with the spec as it was, one rewritten in the new form (`use = "hybrid:cmaes+llm:..."`
with [proposer.hybrid]). Printed: whether each resume stopped on a spec change, its notes, and whether
each experiment's proposer, who proposed it (sampler or LLM) and its parameters equal the straight study's.

    python benchmarks/hybrid_resume.py [BASELINE_COMMIT] [--experiments 12]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the fake server

from parity import source_at  # benchmarks/parity.py: a commit's src/, extracted
from tests.conftest import BOWL, PYTHON, bowl_spec, write_study
from tests.fake_llm import FakeLLMServer, Reply, Request


def answer(request: Request) -> Reply:
    trials = int(re.search(r"sampler's study holds (\d+) trial", request.last_user).group(1))  # type: ignore[union-attr]
    return Reply(text=json.dumps({"rationale": "toward the floor", "params": {"x": 1.0 + 0.01 * trials, "y": -2.0}}))


def run(root: Path, src: Path | None) -> str:
    env = dict(os.environ) | ({"PYTHONPATH": str(src)} if src else {})
    done = subprocess.run([PYTHON, "-m", "autoresearch", "run", str(root)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{root.name}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def trace(root: Path) -> list[tuple[str, str, str]]:
    """Each experiment's proposer, who proposed it (the strategy up to its colon) and its proposal."""
    with sqlite3.connect(root / ".autoresearch" / "bowl" / "study.db") as db:
        rows = db.execute("SELECT proposer, strategy, proposal FROM experiments ORDER BY id").fetchall()
    return [(proposer, (strategy or "").partition(":")[0], proposal) for proposer, strategy, proposal in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", nargs="?", default="3cf865d")
    parser.add_argument("--experiments", type=int, default=12)
    args = parser.parse_args()
    total, half = args.experiments, args.experiments // 2
    server = FakeLLMServer()
    server.responder = answer
    options = f'[proposer.options]\nbase_url = "{server.openai_url}"\nlessons_every = 0\nretries = 0\n'
    legacy = options + '[search]\npolicy = "hybrid"\n[search.hybrid]\nsampler = "cmaes"\nllm_share = 0.5\n'
    new_form = options + "[proposer.hybrid]\nllm_share = 0.5\n"
    try:
        with tempfile.TemporaryDirectory(prefix="hybrid-resume-") as tmp:
            folder = Path(tmp)
            old = source_at(args.baseline, folder / "old")
            straight = write_study(folder / "straight", bowl_spec(total, "llm:vllm/fake", legacy), {"bowl.py": BOWL})
            run(straight, old)
            print(f"hybrid studies of {total} experiments begun with {args.baseline}, resumed at {half} here")
            for name, spec in (
                ("as written then", bowl_spec(total, "llm:vllm/fake", legacy)),
                ("rewritten in the new form", bowl_spec(total, "hybrid:cmaes+llm:vllm/fake", new_form)),
            ):
                root = write_study(
                    folder / name.replace(" ", "-"), bowl_spec(half, "llm:vllm/fake", legacy), {"bowl.py": BOWL}
                )
                run(root, old)
                write_study(root, spec)
                printed = run(root, None)
                notes = [line for line in printed.splitlines() if line.startswith("autoresearch: ")][1:]
                same = trace(root) == trace(straight)
                print(f"- {name}: {len(trace(root))} experiments, identical to the straight study: {same}")
                for note in notes:
                    print(f"    {note}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
