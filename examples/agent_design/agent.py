"""The agent (the only editable file): how a question is put to the model, and how its reply becomes an answer.

harness.py calls solve(question, ask) once per task; `ask(messages, max_tokens)` returns the reply of
SmolLM2-135M-Instruct (greedy) to a chat. solve returns the answer as text: a whole number ("8").
"""

from collections.abc import Callable

# design: prompt=plain reader=whole

SYSTEM = "You are a helpful assistant. Answer the question."
EXAMPLES: list[tuple[str, str]] = []  # (question, reply) pairs shown before the question
MAX_TOKENS = 32


def solve(question: str, ask: Callable[[list[dict[str, str]], int], str]) -> str:
    messages = [{"role": "system", "content": SYSTEM}]
    for shown, reply in EXAMPLES:
        messages += [{"role": "user", "content": shown}, {"role": "assistant", "content": reply}]
    messages.append({"role": "user", "content": question})
    return read_answer(ask(messages, MAX_TOKENS), question)


def read_answer(reply: str, question: str) -> str:
    return reply.strip()
