from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_llm import FakeLLMServer


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A real HTTP server speaking the OpenAI and Anthropic chat protocols (see tests/fake_llm.py)."""
    server = FakeLLMServer()
    yield server
    server.close()
