"""Chat backends behind one small interface: OpenAI-compatible servers, Anthropic, and a local GGUF model."""

from autoresearch.llm.base import ChatBackend, ChatReply, LLMError, Message, RetryPolicy
from autoresearch.llm.factory import make_backend, parse_use
from autoresearch.llm.prices import cost_usd, price_of

__all__ = [
    "ChatBackend",
    "ChatReply",
    "LLMError",
    "Message",
    "RetryPolicy",
    "cost_usd",
    "make_backend",
    "parse_use",
    "price_of",
]
