"""Writes the task set: one-step arithmetic word problems with whole-number answers, in two disjoint splits.

The search split's questions are in tasks/search.json (every process reads them) and its answers in
hidden/search_answers.json (the scorer's alone); the holdout split, questions and answers, is in
holdout/ (the holdout run's alone). Seeded: running it again writes the same files.
"""

import json
import random
from pathlib import Path

NAMES = ["Tom", "Sara", "Ali", "Mia", "Ben", "Lena", "Omar", "Kim", "Noah", "Ruth", "Ivan", "Zoe"]
THINGS = ["apples", "pens", "stickers", "marbles", "books", "cookies", "stamps", "shells"]
# (template, answer); a and b are drawn so that every answer is a whole number.
TEMPLATES = [
    ("{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", lambda a, b: a + b),
    ("There are {a} {t} on a table and {n} adds {b}. How many {t} are on the table?", lambda a, b: a + b),
    ("{n} had {a} {t} and gave {b} to a friend. How many {t} does {n} have left?", lambda a, b: a - b),
    ("A box held {a} {t}. {n} took {b} out. How many {t} are still in the box?", lambda a, b: a - b),
    ("{n} has {a} bags with {b} {t} in each bag. How many {t} does {n} have?", lambda a, b: a * b),
    ("Each shelf holds {b} {t}. How many {t} are on {a} full shelves?", lambda a, b: a * b),
    ("{n} shares {a} {t} equally among {b} friends. How many {t} does each friend get?", lambda a, b: a // b),
]
PER_TEMPLATE = {"search": 2, "holdout": 2}


def draw(rng: random.Random, kind: int) -> tuple[int, int]:
    if kind in (2, 3):  # subtraction: b < a
        a = rng.randint(8, 60)
        return a, rng.randint(2, a - 3)
    if kind in (4, 5):  # multiplication: small factors
        return rng.randint(2, 9), rng.randint(2, 12)
    if kind == 6:  # division: a is a multiple of b
        b = rng.randint(2, 9)
        return b * rng.randint(2, 9), b
    return rng.randint(2, 60), rng.randint(2, 40)


def main() -> None:
    rng = random.Random(15)
    seen: set[str] = set()
    splits: dict[str, list[tuple[str, int]]] = {"search": [], "holdout": []}
    for split, count in PER_TEMPLATE.items():
        for kind, (template, answer) in enumerate(TEMPLATES):
            made = 0
            while made < count:
                a, b = draw(rng, kind)
                question = template.format(n=rng.choice(NAMES), t=rng.choice(THINGS), a=a, b=b)
                if question in seen:  # the splits are disjoint, and no question repeats
                    continue
                seen.add(question)
                splits[split].append((question, answer(a, b)))
                made += 1
        rng.shuffle(splits[split])
    root = Path(__file__).parent
    for folder in ("tasks", "hidden", "holdout"):
        (root / folder).mkdir(exist_ok=True)

    def dump(path: str, value: object) -> None:
        (root / path).write_text(json.dumps(value, indent=1) + "\n")

    search, holdout = splits["search"], splits["holdout"]
    dump("tasks/search.json", [{"id": f"s{i}", "question": q} for i, (q, _) in enumerate(search, 1)])
    dump("hidden/search_answers.json", {f"s{i}": a for i, (_, a) in enumerate(search, 1)})
    dump("holdout/questions.json", [{"id": f"h{i}", "question": q} for i, (q, _) in enumerate(holdout, 1)])
    dump("holdout/answers.json", {f"h{i}": a for i, (_, a) in enumerate(holdout, 1)})


if __name__ == "__main__":
    main()
