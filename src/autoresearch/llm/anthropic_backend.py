"""Anthropic Messages API via the official `anthropic` SDK."""

from __future__ import annotations

import inspect
from typing import Any

from autoresearch.llm.base import (
    ChatReply,
    LLMError,
    Message,
    RetryableError,
    RetryPolicy,
    api_key,
    call_with_retries,
    make_redactor,
    require_model,
    retryable_status,
    tail,
    timeout_of,
)
from autoresearch.llm.openai_compat import _error_text, _retry_after


class AnthropicBackend:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        try:
            import anthropic  # optional: only for llm:anthropic/...
        except ImportError:
            raise LLMError(
                f"llm:anthropic/{model} needs the anthropic package: pip install 'autoresearch[llm]'"
            ) from None
        if not api_key:
            raise LLMError("llm:anthropic needs an API key: set ANTHROPIC_API_KEY (or options.api_key_env)")
        self.name = f"anthropic/{model}"
        self.model = model
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._redact = make_redactor(api_key)
        self._anthropic = anthropic
        self._timeout = timeout
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        # Recent SDKs (and the models they target) dropped `temperature`; send it only where accepted.
        self._takes_temperature = "temperature" in inspect.signature(self._client.messages.create).parameters

    def __repr__(self) -> str:
        return f"AnthropicBackend({self.name!r}, base_url={self.base_url!r})"

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,  # prompt-only: the reply is parsed and validated by caller
    ) -> ChatReply:
        return call_with_retries(
            self.name, lambda: self._once(messages, temperature, max_tokens), self.retry, redact=self._redact
        )

    def _once(self, messages: list[Message], temperature: float, max_tokens: int) -> ChatReply:
        anthropic = self._anthropic
        # The Messages API takes the system prompt apart from the turns.
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": turns,
            "max_tokens": max_tokens,
        }
        if self._takes_temperature:
            kwargs["temperature"] = min(temperature, 1.0)  # Anthropic caps temperature at 1
        if system:
            kwargs["system"] = system
        try:
            reply = self._client.messages.create(**kwargs)
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            detail = f"HTTP {status}: {tail(_error_text(exc))}"
            if retryable_status(status):
                raise RetryableError(detail, _retry_after(exc)) from None
            raise LLMError(f"LLM {self.name} failed: {detail}") from None
        except anthropic.APITimeoutError:
            raise RetryableError(f"timed out after {self._timeout}s") from None
        except anthropic.APIConnectionError as exc:
            raise RetryableError(f"connection error: {tail(str(exc.__cause__ or exc))}") from None
        except (anthropic.APIResponseValidationError, ValueError) as exc:
            raise RetryableError(f"malformed response: {tail(str(exc))}") from None
        content = getattr(reply, "content", None)
        if isinstance(reply, str) or content is None:
            raise RetryableError(f"malformed response: {tail(str(reply))}")
        text = "".join(getattr(block, "text", "") for block in content)
        usage = reply.usage
        return ChatReply(
            text=text,
            tokens_in=int(getattr(usage, "input_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "output_tokens", 0) or 0),
            model=str(getattr(reply, "model", "") or self.model),
        )


def anthropic_provider(model: str, options: dict[str, Any]) -> AnthropicBackend:
    """`llm:anthropic/<model>` (registered in pyproject.toml): the key in ANTHROPIC_API_KEY."""
    require_model("anthropic", model)
    return AnthropicBackend(
        model,
        api_key=api_key("anthropic", "ANTHROPIC_API_KEY", options),
        base_url=options.get("base_url"),
        timeout=timeout_of(options),
        retry=RetryPolicy.from_options(options),
    )
