"""An offline mutation operator (a `script:` proposer, no LLM): perturbs packing.py's constants.

It reads the study as JSON on stdin (docs/script.md), takes the parent's packing.py from `files`, and
changes one to three of the constants between the `constants: begin` / `end` markers:
  - a float is multiplied by exp(N(0, 0.5)) (PENALTY_GROWTH: its excess over 1), clipped to BOUNDS;
  - an integer is scaled the same way and rounded, SEED is drawn afresh;
  - a tuple of integers (ROWS) moves one circle from one row to another.
It prints the whole new file as the proposal. Its random draws are seeded by `--seed` (default 0),
the number of experiments so far and the parent's text, so a study replays exactly.
"""

import argparse
import ast
import hashlib
import json
import math
import random
import re
import sys

FILE = "packing.py"
BEGIN, END = "# constants: begin", "# constants: end"
ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*) = (?P<value>[^#]+?)(?P<comment>\s+#.*)?$")
# Where a constant may go; a constant not listed stays positive and within 100x of its value.
BOUNDS = {
    "ROW_SHIFT": (0.0, 1.0),
    "MARGIN": (0.02, 0.3),
    "JITTER": (0.0, 0.1),
    "START_RADIUS": (0.001, 0.15),
    "STEPS": (100, 3000),  # bounds the run's time
    "STEP_SIZE": (1e-4, 0.05),
    "PENALTY": (0.1, 1000.0),
    "PENALTY_GROWTH": (1.0001, 1.05),
}


def perturb(name: str, value: object, rng: random.Random) -> object:
    low, high = BOUNDS.get(name, (None, None))
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        rows = list(value)
        donors = [i for i, v in enumerate(rows) if v > 1]
        if not donors:
            return value
        src = rng.choice(donors)
        dst = rng.choice([i for i in range(len(rows)) if i != src] or [src])
        rows[src] -= 1
        rows[dst] += 1
        return tuple(rows)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if name == "SEED":
        return rng.randrange(1_000_000)
    factor = math.exp(rng.gauss(0.0, 0.5))
    if name == "PENALTY_GROWTH":
        new = 1 + (float(value) - 1) * factor
    elif value == 0:
        new = rng.uniform(0, high if high is not None else 1.0) * 0.1
    else:
        new = float(value) * factor
    if low is not None and high is not None:
        new = min(max(new, low), high)
    if isinstance(value, int):
        return max(1, round(new))
    return float(f"{new:.4g}")


def mutate(text: str, rng: random.Random) -> tuple[str, list[str]]:
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.strip().startswith(END)]
    if not starts or not ends or ends[0] < starts[0]:
        raise SystemExit(f"{FILE} has no '{BEGIN}' ... '{END}' block of constants to perturb")
    constants = {}
    for i in range(starts[0] + 1, ends[0]):
        match = ASSIGNMENT.match(lines[i].rstrip("\n"))
        if match:
            try:
                constants[i] = (match, ast.literal_eval(match["value"].strip()))
            except (ValueError, SyntaxError):
                continue
    if not constants:
        raise SystemExit(f"no constants between '{BEGIN}' and '{END}' in {FILE}")
    count = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
    changes = []
    for i in rng.sample(sorted(constants), min(count, len(constants))):
        match, value = constants[i]
        new = perturb(match["name"], value, rng)
        if new == value:
            continue
        lines[i] = f"{match['name']} = {new!r}{match['comment'] or ''}\n"
        changes.append(f"{match['name']} {value!r} -> {new!r}")
    return "".join(lines), changes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    study = json.load(sys.stdin)
    text = study["files"][FILE]
    so_far = len(study["history"]) + len(study["pending"])
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    rng = random.Random(f"{seed}:{so_far}:{digest}")
    for _ in range(10):  # a draw that changes nothing (a clipped bound) is drawn again
        new, changes = mutate(text, rng)
        if changes:
            break
    print(json.dumps({"edits": {FILE: new}, "rationale": "; ".join(changes), "strategy": "mutate constants"}))


if __name__ == "__main__":
    main()
