"""`make_backend("llm:<provider>/<model>", options)`: turns a spec string into a chat backend.

Providers are entry points (`autoresearch.llm_providers`, core/plugins.py): this project registers
OpenAI, Anthropic, the OpenAI-compatible local servers and `local` in its pyproject.toml; another package
adds one the same way. A provider no package registers is still an OpenAI-compatible server when the
options give its base_url.
"""

from __future__ import annotations

from typing import Any

from autoresearch.core import plugins
from autoresearch.llm.base import ChatBackend, LLMError, LLMProvider
from autoresearch.llm.openai_compat import OpenAICompatible


def parse_use(use: str) -> tuple[str, str]:
    """("openai", "gpt-4.1-mini") from "llm:openai/gpt-4.1-mini"; ("local", "") from "llm:local"."""
    rest = use.removeprefix("llm:").strip()
    provider, _, model = rest.partition("/")
    if not provider:
        raise LLMError(f"proposer {use!r}: expected llm:<provider>/<model>, e.g. llm:openai/gpt-4.1-mini")
    return provider, model


def check_provider(use: str, options: dict[str, Any]) -> tuple[str, str]:
    """The provider and model of USE, once its provider is known: registered, or an OpenAI-compatible
    server at options.base_url. LLMError names the registered providers otherwise."""
    provider, model = parse_use(use)
    if provider not in plugins.registered("llm_providers") and "base_url" not in options:
        known = plugins.unknown("llm_providers", provider)
        raise LLMError(f"{known}; or give base_url in [proposer.options] for any OpenAI-compatible server")
    return provider, model


def make_backend(use: str, options: dict[str, Any] | None = None) -> ChatBackend:
    """A chat backend for `use` ("llm:<provider>/<model>" or "llm:local[/<file.gguf>]").

    options: base_url, api_key_env, timeout (s, default 120), retries (default 3), backoff (s, default 1),
    backoff_max (s, default 30), and the provider's own (OpenAICompatible's, local's n_ctx and seed).
    """
    options = dict(options or {})
    if "api_key" in options:
        raise LLMError(
            "do not put API keys in the spec; set an environment variable and name it with options.api_key_env"
        )
    provider, model = check_provider(use, options)
    if provider in plugins.registered("llm_providers"):
        make: LLMProvider = plugins.load("llm_providers", provider)
    else:
        make = OpenAICompatible(provider)
    return make(model, options)
