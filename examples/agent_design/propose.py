"""An offline meta-agent for this example (a `script:` proposer): it searches over agent designs built
from blocks, the way ADAS's meta agent searches over agent code, but with no model writing the code.

A design is a prompt block (what the model is asked, with which examples) and a reader block (how the
reply becomes a number: take it whole, pick a number, calculate an expression the model wrote, or
apply an operation the model named to the question's numbers). From the current best it changes one
block to one not tried in this study. Which block, it reads from the scorer's feedback on the best:
when most wrong answers hold words, the reader is what fails first; otherwise the prompt. The choice
among those blocks is drawn with a seed of the study's length, so a study replays exactly. It writes
the whole agent.py of the new design. An LLM or a coding agent can take its place
(README.md) and write agent code no block here holds.
"""

import json
import random
import re
import sys
from typing import Any

PROMPTS: dict[str, tuple[str, list[tuple[str, str]], int]] = {
    "plain": ("You are a helpful assistant. Answer the question.", [], 32),
    "number": ("Answer with one whole number only, no words.", [], 8),
    "worked": (
        "Solve the problem. Write the calculation, then the result.",
        [
            ("Ann has 2 cats and gets 3 more. How many cats does Ann have?", "2 + 3 = 5"),
            ("There are 9 birds and 4 fly away. How many birds are left?", "9 - 4 = 5"),
            ("Each box has 5 toys. How many toys are in 3 boxes?", "5 * 3 = 15"),
        ],
        24,
    ),
    "expression": (
        "Write the arithmetic expression that answers the question, with numbers and + - * / only. "
        "Reply with the expression only.",
        [
            ("Ann has 2 cats and gets 3 more. How many cats does Ann have?", "2 + 3"),
            ("There are 9 birds and 4 fly away. How many birds are left?", "9 - 4"),
            ("Each box has 5 toys. How many toys are in 3 boxes?", "5 * 3"),
            ("Jo shares 12 sweets equally among 4 children. How many sweets does each child get?", "12 / 4"),
        ],
        12,
    ),
    "operation": (
        "Which operation answers the question: add, subtract, multiply or divide? Answer with one word.",
        [
            ("Ann has 2 cats and gets 3 more. How many cats does Ann have?", "add"),
            ("There are 9 birds and 4 fly away. How many birds are left?", "subtract"),
            ("Each box has 5 toys. How many toys are in 3 boxes?", "multiply"),
            ("Jo shares 12 sweets equally among 4 children. How many sweets does each child get?", "divide"),
        ],
        4,
    ),
}

READERS = {
    "whole": """\
def read_answer(reply: str, question: str) -> str:
    return reply.strip()
""",
    "first-number": """\
def read_answer(reply: str, question: str) -> str:
    numbers = re.findall(r"-?\\d+", reply)
    return numbers[0] if numbers else ""
""",
    "last-number": """\
def read_answer(reply: str, question: str) -> str:
    numbers = re.findall(r"-?\\d+", reply)
    return numbers[-1] if numbers else ""
""",
    "calculate": """\
def read_answer(reply: str, question: str) -> str:
    # The model writes the arithmetic; Python does it (a tiny evaluator: numbers and + - * / only).
    found = re.search(r"\\d+(?:\\s*[-+*/x×]\\s*\\d+)+", reply)
    if not found:
        numbers = re.findall(r"-?\\d+", reply)
        return numbers[-1] if numbers else ""
    tokens = re.findall(r"\\d+|[-+*/x×]", found.group())
    value = float(tokens[0])
    for op, number in zip(tokens[1::2], tokens[2::2], strict=False):
        n = float(number)
        value = value + n if op == "+" else value - n if op == "-" else value / n if op == "/" else value * n
    return str(round(value))
""",
    "apply-operation": """\
def read_answer(reply: str, question: str) -> str:
    # The model names the operation; Python applies it to the question's two numbers.
    numbers = [int(n) for n in re.findall(r"\\d+", question)]
    if len(numbers) < 2:
        return ""
    a, b = max(numbers[:2]), min(numbers[:2])
    word = reply.strip().lower()
    if "sub" in word or "minus" in word:
        return str(a - b)
    if "mult" in word or "times" in word:
        return str(a * b)
    if "div" in word:
        return str(a // b)
    return str(a + b)
""",
}

TEMPLATE = '''\
"""The agent (the only editable file): how a question is put to the model, and how its reply becomes an answer.

harness.py calls solve(question, ask) once per task; `ask(messages, max_tokens)` returns the reply of
SmolLM2-135M-Instruct (greedy) to a chat. solve returns the answer as text: a whole number ("8").
"""

{imports}from collections.abc import Callable

# design: prompt={prompt} reader={reader}

SYSTEM = {system}
EXAMPLES: list[tuple[str, str]] = {examples}  # (question, reply) pairs shown before the question
MAX_TOKENS = {max_tokens}


def solve(question: str, ask: Callable[[list[dict[str, str]], int], str]) -> str:
    messages = [{{"role": "system", "content": SYSTEM}}]
    for shown, reply in EXAMPLES:
        messages += [{{"role": "user", "content": shown}}, {{"role": "assistant", "content": reply}}]
    messages.append({{"role": "user", "content": question}})
    return read_answer(ask(messages, MAX_TOKENS), question)


{reader_source}'''


def render(prompt: str, reader: str) -> str:
    system, examples, max_tokens = PROMPTS[prompt]
    # Written as `ruff format` would write it, so that the shipped baseline is one of these renders.
    pairs = "".join(f"    ({json.dumps(q)}, {json.dumps(a)}),\n" for q, a in examples)
    shown = "[\n" + pairs + "]" if examples else "[]"
    parts = [json.dumps(part) for part in re.split(r"(?<=[.?] )(?=[A-Z])", system)]
    quoted = json.dumps(system) if len(system) < 100 else "(\n    " + "\n    ".join(parts) + "\n)"
    return TEMPLATE.format(
        imports="import re\n" if "re." in READERS[reader] else "",
        prompt=prompt,
        reader=reader,
        system=quoted,
        examples=shown,
        max_tokens=max_tokens,
        reader_source=READERS[reader],
    )


def main() -> None:
    study: dict[str, Any] = json.load(sys.stdin)
    design = re.search(r"# design: prompt=(\S+) reader=(\S+)", study["files"]["agent.py"])
    if design is None or design.group(1) not in PROMPTS or design.group(2) not in READERS:
        print(json.dumps({"done": True}))  # the best is no design of these blocks (an LLM wrote it)
        return
    prompt, reader = design.groups()
    tried = {e.get("strategy") for e in study["history"]} | {p.get("strategy") for p in study["pending"]}
    tried.add(f"{prompt}+{reader}")
    # One block changed at a time, from the current best: the neighbours not tried yet, the block that
    # the feedback implicates first.
    new_prompts = [(p, reader) for p in PROMPTS if p != prompt and f"{p}+{reader}" not in tried]
    new_readers = [(prompt, r) for r in READERS if r != reader and f"{prompt}+{r}" not in tried]
    answered = re.findall(r"wrong: answered '(.*)' to '", (study["best"] or {}).get("feedback") or "")
    wordy = sum(bool(re.search(r"[A-Za-z]{3}", said)) for said in answered) > len(answered) / 2
    options = (new_readers or new_prompts) if wordy else (new_prompts or new_readers)
    if not options:
        print(json.dumps({"done": True}))
        return

    new_prompt, new_reader = random.Random(len(study["history"])).choice(options)
    changed = f"prompt {prompt} -> {new_prompt}" if new_prompt != prompt else f"reader {reader} -> {new_reader}"
    proposal = {
        "edits": {"agent.py": render(new_prompt, new_reader)},
        "format": "whole",
        "rationale": f"from the best ({prompt}+{reader}), change the {changed}",
        "strategy": f"{new_prompt}+{new_reader}",
    }
    print(json.dumps(proposal))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--render"]:  # `python propose.py --render plain whole` prints that design's agent.py
        sys.stdout.write(render(sys.argv[2], sys.argv[3]))
    else:
        main()
