"""USD per million tokens (input, output) for a few known models; users override with options.prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Public list prices when written; a longest-prefix match covers dated snapshots ("gpt-4.1-mini-2025-...").
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "o3": (2.0, 8.0),
    "o4-mini": (1.1, 4.4),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.4),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-haiku-4-5": (1.0, 5.0),
}

# Providers that run on the user's own hardware cost nothing per token.
FREE_PROVIDERS = {"local", "ollama", "vllm", "lmstudio", "llamacpp"}


def price_of(
    provider: str, model: str, overrides: Mapping[str, Sequence[float]] | None = None
) -> tuple[float, float] | None:
    """(usd per Mtok in, usd per Mtok out) for the model, or None when unknown."""
    table: dict[str, tuple[float, float]] = dict(DEFAULT_PRICES)
    for name, pair in (overrides or {}).items():
        table[name] = (float(pair[0]), float(pair[1]))
    for key in (f"{provider}/{model}", model, model.rsplit("/", 1)[-1]):
        if key in table:
            return table[key]
    if provider in FREE_PROVIDERS:
        return (0.0, 0.0)
    bare = model.rsplit("/", 1)[-1]
    matches = [name for name in table if bare.startswith(name)]
    return table[max(matches, key=len)] if matches else None


def cost_usd(
    provider: str,
    model: str,
    tokens_in: int,
    tokens_out: int,
    overrides: Mapping[str, Sequence[float]] | None = None,
) -> float | None:
    price = price_of(provider, model, overrides)
    if price is None:
        return None
    return (tokens_in * price[0] + tokens_out * price[1]) / 1e6
