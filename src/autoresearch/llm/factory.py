"""`make_backend("llm:<provider>/<model>", options)`: turns a spec string into a chat backend."""

from __future__ import annotations

import os
from typing import Any

from autoresearch.llm.base import ChatBackend, LLMError, RetryPolicy

# OpenAI-compatible providers: default base URL and the environment variable that holds the key
# (None: a local server that needs no key).
OPENAI_COMPATIBLE: dict[str, tuple[str | None, str | None]] = {
    "openai": (None, "OPENAI_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None),
    "vllm": ("http://localhost:8000/v1", None),
    "lmstudio": ("http://localhost:1234/v1", None),
    "llamacpp": ("http://localhost:8080/v1", None),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
}


def parse_use(use: str) -> tuple[str, str]:
    """("openai", "gpt-4.1-mini") from "llm:openai/gpt-4.1-mini"; ("local", "") from "llm:local"."""
    rest = use.removeprefix("llm:").strip()
    provider, _, model = rest.partition("/")
    if not provider:
        raise LLMError(f"proposer {use!r}: expected llm:<provider>/<model>, e.g. llm:openai/gpt-4.1-mini")
    if provider != "local" and not model:
        raise LLMError(f"proposer {use!r}: name the model, e.g. llm:{provider}/<model>")
    return provider, model


def _api_key(provider: str, default_env: str | None, options: dict[str, Any]) -> str | None:
    # Keys come only from the environment, never from the spec file, so they are never stored.
    env = options.get("api_key_env", default_env)
    if env is None:
        return None
    key = os.environ.get(str(env))
    if not key:
        raise LLMError(f"llm:{provider} needs an API key: set the environment variable {env}")
    return key


def make_backend(use: str, options: dict[str, Any] | None = None) -> ChatBackend:
    """A chat backend for `use` ("llm:<provider>/<model>" or "llm:local[/<file.gguf>]").

    options: base_url, api_key_env, timeout (s, default 120), retries (default 3), backoff (s, default 1),
    backoff_max (s, default 30), response_format ("json_schema" | "json_object" | "none"),
    max_tokens_param, extra_body (dict sent as-is), n_ctx and seed (local).
    """
    options = dict(options or {})
    if "api_key" in options:
        raise LLMError(
            "do not put API keys in the spec; set an environment variable and name it with options.api_key_env"
        )
    provider, model = parse_use(use)
    timeout = float(options.get("timeout", 120.0))
    retry = RetryPolicy.from_options(options)
    if provider == "local":
        from autoresearch.llm.local import LocalBackend

        return LocalBackend(
            model or options.get("model_path"), n_ctx=int(options.get("n_ctx", 8192)), seed=int(options.get("seed", 0))
        )
    if provider == "anthropic":
        from autoresearch.llm.anthropic_backend import AnthropicBackend

        return AnthropicBackend(
            model,
            api_key=_api_key(provider, "ANTHROPIC_API_KEY", options),
            base_url=options.get("base_url"),
            timeout=timeout,
            retry=retry,
        )
    if provider not in OPENAI_COMPATIBLE and "base_url" not in options:
        known = ", ".join(sorted([*OPENAI_COMPATIBLE, "anthropic", "local"]))
        raise LLMError(
            f"unknown LLM provider {provider!r} in {use!r}: use one of {known}, "
            "or give options.base_url for any OpenAI-compatible server"
        )
    default_url, default_env = OPENAI_COMPATIBLE.get(provider, (None, None))
    from autoresearch.llm.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(
        provider,
        model,
        base_url=options.get("base_url", default_url),
        api_key=_api_key(provider, default_env, options),
        timeout=timeout,
        retry=retry,
        response_format=str(options.get("response_format", "json_schema")),
        max_tokens_param=str(options.get("max_tokens_param", "max_tokens")),
        extra_body=options.get("extra_body"),
    )
