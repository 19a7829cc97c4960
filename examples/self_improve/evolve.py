"""The outer proposer (a `script:` proposer, offline): evolves the heuristics block of inner_propose.py.

A proposer's genome is the block between the `# --- heuristics` markers: one line per heuristic. From the
best proposer so far it makes a child, one of two ways:
- mutation: one heuristic changed to another of its values below;
- recombination (every third candidate, once there are two measured genomes): each heuristic taken from
  the best or from the runner-up (the best-scoring genome that was not kept), by a fair coin.
A child already tried in this study is never proposed again; the genome is the candidate's `strategy`, so
the history says which were tried. Draws are seeded by `--seed` and the study's length: a study replays.
An LLM proposer (`use = "llm:..."`) rewrites the whole inner proposer instead (README.md).
"""

import argparse
import json
import random
import re
import sys
from pathlib import Path

VALUES: dict[str, list[str]] = {
    "INIT_RANDOM": ["0", "2", "4"],
    "STEP": ["0.05", "0.1", "0.25", "0.5"],
    "SHRINK": ["0.5", "0.7", "0.85", "1.0"],
    "GROW": ["1.0", "1.3", "2.0"],
    "MOVE": ['"all"', '"coordinate"'],
    "RESTART_AFTER": ["0", "4", "8"],
}
QUOTE = '"'
BLOCK = re.compile(r"(# --- heuristics.*?\n)(.*?)(# --- end heuristics ---)", re.S)
LINE = re.compile(r"^(\w+) = (\S+)(.*)$")


def read_genome(source: str) -> dict[str, str]:
    found = BLOCK.search(source)
    if found is None:
        sys.exit("inner_propose.py has no heuristics block (# --- heuristics ... # --- end heuristics ---)")
    return {m.group(1): m.group(2) for m in map(LINE.match, found.group(2).splitlines()) if m}


def write_genome(source: str, genome: dict[str, str]) -> str:
    found = BLOCK.search(source)
    assert found is not None
    lines = []
    for line in found.group(2).splitlines():
        m = LINE.match(line)
        lines.append(f"{m.group(1)} = {genome[m.group(1)]}{m.group(3)}" if m and m.group(1) in genome else line)
    return source[: found.start(2)] + "\n".join(lines) + "\n" + source[found.end(2) :]


def label(genome: dict[str, str]) -> str:
    return " ".join(f"{k}={genome[k].strip(QUOTE)}" for k in sorted(genome))


def parse_label(text: str | None) -> dict[str, str] | None:
    if not text or "=" not in text:
        return None
    pairs = dict(part.split("=", 1) for part in text.split())
    return {k: (f'"{v}"' if k == "MOVE" else v) for k, v in pairs.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    study = json.load(sys.stdin)
    source = study["files"]["inner_propose.py"]
    best = read_genome(source)
    history = study["history"]
    tried = {e["strategy"] for e in history} | {e["strategy"] for e in study["pending"]} | {label(best)}
    # The baseline has no strategy: its genome is the starting proposer's, the one in the spec's folder.
    starting = Path("inner_propose.py")
    if starting.is_file():
        tried.add(label(read_genome(starting.read_text())))
    rng = random.Random(f"{seed}:{len(history)}")
    measured = [e for e in history if e["decision"] == "reverted" and e["objective"] is not None]
    runner_up = parse_label(max(measured, key=lambda e: e["objective"])["strategy"]) if measured else None
    children: list[tuple[str, dict[str, str]]] = []
    if runner_up and len(history) % 3 == 0:
        for _ in range(20):
            child = {k: rng.choice([v, runner_up.get(k, v)]) for k, v in best.items()}
            children.append(("recombine best with runner-up", child))
    for name in sorted(VALUES, key=lambda _: rng.random()):
        for value in sorted(VALUES[name], key=lambda _: rng.random()):
            children.append((f"mutate {name}: {best.get(name)} -> {value}", best | {name: value}))
    for how, child in children:
        if label(child) not in tried:
            edits = {"inner_propose.py": write_genome(source, child)}
            print(json.dumps({"edits": edits, "rationale": how, "strategy": label(child)}))
            return
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
