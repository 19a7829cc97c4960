"""The inner proposer: a `script:` proposer for params-mode studies, and the candidate the outer study evolves.

It reads the inner study on stdin (docs/script.md) and prints the next point. The search is a local
search around the best point, shaped by the heuristics below; evolve.py (the outer proposer) rewrites
that block, and an LLM proposer may rewrite the whole file. Deterministic: its random draws are seeded by
the study's name and length, so a study replays exactly.
"""

import json
import random
import sys

# --- heuristics (evolve.py rewrites this block) ---
INIT_RANDOM = 0  # uniform random points tried right after the baseline
STEP = 0.5  # first step size, as a share of each parameter's range
SHRINK = 1.0  # step multiplier after a candidate that was not kept
GROW = 1.0  # step multiplier after one that was kept
MOVE = "all"  # "all": move every coordinate at once; "coordinate": one coordinate per candidate
RESTART_AFTER = 0  # jump to a random point after this many misses in a row (0: never)
# --- end heuristics ---


def main() -> None:
    study = json.load(sys.stdin)
    space = study["space"]
    names = sorted(space)
    finished = study["history"]
    n = len(finished) + len(study["pending"])
    rng = random.Random(f"{study['study']}:{n}")
    best = (study["best"] or {}).get("params") or {name: space[name]["default"] for name in names}

    def uniform() -> dict[str, float]:
        return {name: rng.uniform(space[name]["low"], space[name]["high"]) for name in names}

    # The step and the misses in a row follow from the history: it is replayed, not remembered.
    step, misses = STEP, 0
    for experiment in finished[1:]:
        kept = experiment["decision"] == "kept"
        step, misses = (step * GROW, 0) if kept else (step * SHRINK, misses + 1)
    if n <= INIT_RANDOM or (RESTART_AFTER and misses and misses % RESTART_AFTER == 0):
        point, how = uniform(), "random point"
    else:
        moved = [names[n % len(names)]] if MOVE == "coordinate" else names
        point = dict(best)
        for name in moved:
            width = space[name]["high"] - space[name]["low"]
            point[name] = best[name] + rng.gauss(0, step * width)
        how = f"gaussian step {step:.3g} on {', '.join(moved)}"
    for name in names:  # stay inside the space
        point[name] = min(max(float(point[name]), space[name]["low"]), space[name]["high"])
    print(json.dumps({"params": point, "rationale": how, "strategy": how.split(" on ")[0].split(" ")[0]}))


if __name__ == "__main__":
    main()
