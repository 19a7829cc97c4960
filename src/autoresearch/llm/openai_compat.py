"""OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, LM Studio, OpenRouter, llama.cpp server)."""

from __future__ import annotations

from dataclasses import dataclass
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


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAICompatBackend:
    """One model behind an OpenAI-style `/chat/completions` endpoint, via the official `openai` SDK."""

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        response_format: str = "json_schema",
        max_tokens_param: str = "max_tokens",
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        try:
            import openai  # optional and slow to import: only for an OpenAI-compatible provider
        except ImportError:
            raise LLMError(
                f"llm:{provider}/{model} needs the openai package: pip install 'autoresearch[llm]'"
            ) from None
        self.name = f"{provider}/{model}"
        self.model = model
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        # "json_schema" | "json_object" | "none": servers differ in what they accept, so it is an option,
        # and a 400 about it downgrades to "none" once (see chat()).
        self.response_format = response_format
        self.max_tokens_param = max_tokens_param
        self.extra_body = extra_body or {}
        self._redact = make_redactor(api_key)
        # The SDK insists on a key even for local servers that ignore it. SDK retries are off: our loop
        # retries, so the attempt count and the final message are ours and testable.
        self._client = openai.OpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout, max_retries=0)
        self._openai = openai

    def __repr__(self) -> str:  # never show the client (it holds the key)
        return f"OpenAICompatBackend({self.name!r}, base_url={self.base_url!r})"

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        return call_with_retries(
            self.name,
            lambda: self._once(messages, temperature, max_tokens, json_schema),
            self.retry,
            redact=self._redact,
        )

    def _once(
        self, messages: list[Message], temperature: float, max_tokens: int, json_schema: dict[str, Any] | None
    ) -> ChatReply:
        openai = self._openai
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": temperature,
            self.max_tokens_param: max_tokens,
        }
        if json_schema is not None and self.response_format == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "proposal", "schema": json_schema, "strict": False},
            }
        elif json_schema is not None and self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        try:
            completion = self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = f"HTTP {status}: {tail(_error_text(exc))}"
            if status == 400 and "response_format" in kwargs and "format" in _error_text(exc).lower():
                # The server does not do structured output: fall back to prompt-only JSON, once.
                self.response_format = "none"
                raise RetryableError(detail + " (retrying without response_format)", retry_after=0) from None
            if retryable_status(status):
                raise RetryableError(detail, _retry_after(exc)) from None
            raise LLMError(f"LLM {self.name} failed: {detail}") from None
        except openai.APITimeoutError:
            raise RetryableError(f"timed out after {self._client.timeout}s") from None
        except openai.APIConnectionError as exc:
            raise RetryableError(f"connection error: {tail(str(exc.__cause__ or exc))}") from None
        except (openai.APIResponseValidationError, ValueError) as exc:
            # A 200 whose body is not a chat completion (proxies, overloaded servers): worth another try.
            raise RetryableError(f"malformed response: {tail(str(exc))}") from None
        if isinstance(completion, str) or not getattr(completion, "choices", None):
            raise RetryableError(f"malformed response: {tail(str(completion))}")
        message = completion.choices[0].message
        text = message.content or ""
        usage = completion.usage
        return ChatReply(
            text=text,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            model=str(getattr(completion, "model", "") or self.model),
        )


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    response = getattr(exc, "response", None)
    try:
        return response.text if response is not None else str(exc)
    except Exception:  # a streamed or closed body
        return str(exc)


@dataclass(frozen=True)
class OpenAICompatible:
    """An LLM provider that speaks OpenAI's chat API: the server it talks to by default and the variable
    that holds its key (None: a local server that needs none); options.base_url and options.api_key_env
    override them. Options: response_format ("json_schema" | "json_object" | "none"), max_tokens_param,
    extra_body (a dict sent as it is)."""

    name: str
    base_url: str | None = None
    key_env: str | None = None

    def __call__(self, model: str, options: dict[str, Any]) -> OpenAICompatBackend:
        require_model(self.name, model)
        return OpenAICompatBackend(
            self.name,
            model,
            base_url=options.get("base_url", self.base_url),
            api_key=api_key(self.name, self.key_env, options),
            timeout=timeout_of(options),
            retry=RetryPolicy.from_options(options),
            response_format=str(options.get("response_format", "json_schema")),
            max_tokens_param=str(options.get("max_tokens_param", "max_tokens")),
            extra_body=options.get("extra_body"),
        )


# The providers registered in pyproject.toml (`autoresearch.llm_providers`).
OPENAI = OpenAICompatible("openai", key_env="OPENAI_API_KEY")
OPENROUTER = OpenAICompatible("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY")
OLLAMA = OpenAICompatible("ollama", "http://localhost:11434/v1")
VLLM = OpenAICompatible("vllm", "http://localhost:8000/v1")
LMSTUDIO = OpenAICompatible("lmstudio", "http://localhost:1234/v1")
LLAMACPP = OpenAICompatible("llamacpp", "http://localhost:8080/v1")
