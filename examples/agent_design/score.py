"""The scorer: compares the agent's answers with the true ones, which only this process can read.

    python score.py ANSWERS_DIR

ANSWERS_DIR holds the harness's answers.json; the true answers are in hidden/search_answers.json
(`[scorer] data`). An answer counts when, stripped of surrounding spaces, it is exactly the whole
number expected ("8", not "8 apples" nor "3 + 5 = 8"). It prints `accuracy` (the objective),
`calls_per_task` and `tokens_per_task` (for the cost guard), and one `feedback:` line per wrong answer
with the question and what the agent answered, never the right answer.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

FEEDBACK_LINES = 8


def read_json(path: Path) -> Any:
    """The run wrote this file: never follow a link it may have planted there."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as file:
        return json.load(file)


def score(run: dict[str, Any], truth: dict[str, int], questions: dict[str, str]) -> list[str]:
    answers = run["answers"]
    right = [task for task, value in truth.items() if str(answers.get(task, "")).strip() == str(value)]
    wrong = [task for task in truth if task not in right]
    lines = []
    for task in wrong[:FEEDBACK_LINES]:
        said = " ".join(str(answers.get(task, "<no answer>")).split())[:80]
        lines.append(f"feedback: {task} wrong: answered {said!r} to {questions.get(task, '')[:90]!r}")
    lines.append(f"feedback: {len(right)} of {len(truth)} right")
    lines.append(f"calls_per_task: {run['calls'] / len(truth):.3f}")
    lines.append(f"tokens_per_task: {run['tokens'] / len(truth):.1f}")
    lines.append(f"accuracy: {len(right) / len(truth):.6f}")
    return lines


def main() -> None:
    run = read_json(Path(sys.argv[1]) / "answers.json")
    truth = json.loads(Path("hidden/search_answers.json").read_text())
    questions = {t["id"]: t["question"] for t in json.loads(Path("tasks/search.json").read_text())}
    print("\n".join(score(run, truth, questions)))


if __name__ == "__main__":
    main()
