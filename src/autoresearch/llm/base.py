"""The one chat interface every LLM backend implements, plus retries and secret hygiene."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class ChatReply:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""


class LLMError(Exception):
    """A chat call failed for good (after retries, or on an error retrying cannot fix)."""


class ChatBackend(Protocol):
    name: str  # "<provider>/<model>", used in messages and records

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply: ...


class LLMProvider(Protocol):
    """What an `autoresearch.llm_providers` entry point names: `llm:<provider>/<model>` -> a chat backend.

    OPTIONS are the proposer's ([proposer.options]): base_url, api_key_env, timeout, retries and the
    provider's own. Raise LLMError for a missing model, key or package, naming the fix."""

    def __call__(self, model: str, options: dict[str, Any]) -> ChatBackend: ...


def api_key(provider: str, default_env: str | None, options: dict[str, Any]) -> str | None:
    """The key from the variable options.api_key_env names (default DEFAULT_ENV; None: no key needed)."""
    # Keys come only from the environment, never from the spec file, so they are never stored.
    env = options.get("api_key_env", default_env)
    if env is None:
        return None
    key = os.environ.get(str(env))
    if not key:
        raise LLMError(f"llm:{provider} needs an API key: set the environment variable {env}")
    return key


def require_model(provider: str, model: str) -> None:
    if not model:
        raise LLMError(f"proposer 'llm:{provider}': name the model, e.g. llm:{provider}/<model>")


def timeout_of(options: dict[str, Any]) -> float:
    return float(options.get("timeout", 120.0))


def retryable_status(status: int) -> bool:
    """HTTP statuses worth another attempt: timeouts, conflicts, rate limits and server errors."""
    return status in (408, 409, 429) or status >= 500


class RetryableError(Exception):
    """Raised by a backend's single attempt for failures worth retrying (429, 5xx, network, timeout)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `retries` extra attempts after the first."""

    retries: int = 3
    backoff: float = 1.0
    backoff_max: float = 30.0

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RetryPolicy:
        return cls(
            retries=int(options.get("retries", 3)),
            backoff=float(options.get("backoff", 1.0)),
            backoff_max=float(options.get("backoff_max", 30.0)),
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        # Full jitter spreads clients that failed together; a server's Retry-After wins when given.
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff * 2**attempt))


def call_with_retries(
    name: str,
    attempt_once: Callable[[], T],
    policy: RetryPolicy,
    *,
    redact: Callable[[str], str] = lambda s: s,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `attempt_once` until it succeeds, retrying RetryableError; raise one clear LLMError at the end."""
    attempts = policy.retries + 1
    for attempt in range(attempts):
        try:
            return attempt_once()
        except RetryableError as exc:
            message = redact(str(exc))
            if attempt + 1 >= attempts:
                raise LLMError(f"LLM {name} failed after {attempts} attempts: {message}") from None
            wait = policy.delay(attempt, exc.retry_after)
            log.warning(
                "LLM %s attempt %d/%d failed (%s); retrying in %.1fs", name, attempt + 1, attempts, message, wait
            )
            sleep(wait)
        except LLMError as exc:
            raise LLMError(redact(str(exc))) from None
    raise AssertionError("unreachable")


def make_redactor(*secrets: str | None) -> Callable[[str], str]:
    """Replace every secret in a text (error bodies can echo headers) with '***'."""
    values = [s for s in secrets if s and len(s) >= 4]

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, "***")
        return text

    return redact


def tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[-limit:]
