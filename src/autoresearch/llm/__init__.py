"""Chat backends behind one small interface: OpenAI-compatible servers, Anthropic, and a local GGUF model."""

from autoresearch.llm.base import ChatBackend, ChatReply, LLMError, LLMProvider, Message, RetryPolicy
from autoresearch.llm.factory import check_provider, make_backend, parse_use
from autoresearch.llm.prices import cost_usd, price_of

__all__ = [
    "ChatBackend",
    "ChatReply",
    "LLMError",
    "LLMProvider",
    "Message",
    "RetryPolicy",
    "check_provider",
    "cost_usd",
    "make_backend",
    "parse_use",
    "price_of",
]
