"""Chat backends over real HTTP against the scripted fake server (tests/fake_llm.py)."""

from __future__ import annotations

import time

import pytest

from autoresearch.llm import LLMError, Message, cost_usd, make_backend, parse_use, price_of
from autoresearch.llm.base import RetryPolicy
from tests.fake_llm import FakeLLMServer, Reply

SECRET = "sk-test-SECRET-0123456789"
FAST = {"backoff": 0.01, "backoff_max": 0.05, "timeout": 5}
HELLO: list[Message] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)


def openai(server: FakeLLMServer, **options: object):  # type: ignore[no-untyped-def]
    return make_backend("llm:openai/gpt-4.1-mini", {"base_url": server.openai_url, **FAST, **options})


def test_openai_reply_tokens_and_request(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(text="hello there", tokens_in=20, tokens_out=3))
    reply = openai(fake_llm).chat(HELLO, temperature=0.2, max_tokens=50, json_schema={"type": "object"})
    assert (reply.text, reply.tokens_in, reply.tokens_out) == ("hello there", 20, 3)
    assert reply.model == "gpt-4.1-mini"
    [request] = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.body["messages"] == HELLO
    assert request.body["temperature"] == 0.2 and request.body["max_tokens"] == 50
    assert request.body["response_format"]["type"] == "json_schema"
    assert request.body["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_429_and_500_are_retried_then_succeed(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(status=429, error="slow down"), Reply(status=500), Reply(status=503), "ok")
    start = time.monotonic()
    reply = openai(fake_llm).chat(HELLO, temperature=0, max_tokens=10)
    assert reply.text == "ok"
    assert len(fake_llm.requests) == 4
    assert time.monotonic() - start < 2  # backoff honoured the small test settings


def test_retry_after_header_is_honoured(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(status=429, headers={"retry-after": "0.3"}), "ok")
    start = time.monotonic()
    assert openai(fake_llm, backoff_max=1).chat(HELLO, temperature=0, max_tokens=10).text == "ok"
    assert time.monotonic() - start >= 0.3


def test_persistent_500_gives_one_clear_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(*[Reply(status=500, error="upstream exploded")] * 4)
    with pytest.raises(LLMError) as info:
        openai(fake_llm, retries=3).chat(HELLO, temperature=0, max_tokens=10)
    message = str(info.value)
    assert message.startswith("LLM openai/gpt-4.1-mini failed after 4 attempts: HTTP 500")
    assert "upstream exploded" in message
    assert len(fake_llm.requests) == 4


def test_client_errors_are_not_retried(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(status=401, error="bad key"), "never sent")
    with pytest.raises(LLMError, match="HTTP 401: bad key"):
        openai(fake_llm).chat(HELLO, temperature=0, max_tokens=10)
    assert len(fake_llm.requests) == 1


def test_slow_answer_hits_timeout(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(text="late", delay=1.5), Reply(text="late", delay=1.5))
    start = time.monotonic()
    with pytest.raises(LLMError, match=r"failed after 2 attempts: timed out after 0.3"):
        openai(fake_llm, timeout=0.3, retries=1).chat(HELLO, temperature=0, max_tokens=10)
    assert time.monotonic() - start < 2.9  # waiting both replies out would take 3 s


def test_timeout_then_success(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(text="late", delay=1.0), "on time")
    assert openai(fake_llm, timeout=0.3).chat(HELLO, temperature=0, max_tokens=10).text == "on time"


def test_dropped_connection_then_success(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(drop=True), Reply(drop=True), "ok")
    assert openai(fake_llm).chat(HELLO, temperature=0, max_tokens=10).text == "ok"
    assert len(fake_llm.requests) == 3


def test_dropped_connections_only(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(*[Reply(drop=True)] * 3)
    with pytest.raises(LLMError, match="failed after 3 attempts: connection error"):
        openai(fake_llm, retries=2).chat(HELLO, temperature=0, max_tokens=10)


def test_malformed_json_body_is_retried(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(raw='{"choices": [ this is not json'), "ok")
    assert openai(fake_llm).chat(HELLO, temperature=0, max_tokens=10).text == "ok"
    fake_llm.script(*[Reply(raw="<html>bad gateway</html>")] * 2)
    with pytest.raises(LLMError, match="malformed response"):
        openai(fake_llm, retries=1).chat(HELLO, temperature=0, max_tokens=10)


def test_response_format_rejected_falls_back_to_prompt_only(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(status=400, error="response_format json_schema is not supported"), "{}")
    reply = openai(fake_llm).chat(HELLO, temperature=0, max_tokens=10, json_schema={"type": "object"})
    assert reply.text == "{}"
    assert "response_format" in fake_llm.requests[0].body
    assert "response_format" not in fake_llm.requests[1].body


def test_key_never_leaks_into_errors_or_repr(fake_llm: FakeLLMServer) -> None:
    # A misbehaving proxy echoing the key in its error body must not put it in our messages.
    fake_llm.script(
        *[Reply(status=500, error=f"bad header Authorization: Bearer {SECRET}")] * 2,
        Reply(status=403, error=f"key {SECRET} revoked"),
    )
    backend = openai(fake_llm, retries=1)
    with pytest.raises(LLMError) as info:
        backend.chat(HELLO, temperature=0, max_tokens=10)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    with pytest.raises(LLMError) as info:
        backend.chat(HELLO, temperature=0, max_tokens=10)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None
    assert SECRET not in repr(backend) and SECRET not in str(vars(backend).get("name"))


def test_anthropic_protocol(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Reply(status=529, error="overloaded"), Reply(text="bonjour", tokens_in=9, tokens_out=2))
    backend = make_backend("llm:anthropic/claude-sonnet-4-x", {"base_url": fake_llm.url, **FAST})
    reply = backend.chat(HELLO, temperature=1.5, max_tokens=64, json_schema={"type": "object"})
    assert (reply.text, reply.tokens_in, reply.tokens_out) == ("bonjour", 9, 2)
    request = fake_llm.requests[-1]
    assert request.path == "/v1/messages"
    # SDK versions differ in the header they put the key in.
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    assert SECRET in (request.headers.get("x-api-key"), bearer)
    assert request.body["system"] == "be brief"
    assert request.body["messages"] == [{"role": "user", "content": "hi"}]
    assert request.body["max_tokens"] == 64
    assert request.body.get("temperature", 1.0) == 1.0  # capped at 1, or absent where the SDK dropped it


def test_anthropic_persistent_failure(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(*[Reply(status=500, error="boom")] * 2)
    backend = make_backend("llm:anthropic/claude-x", {"base_url": fake_llm.url, **FAST, "retries": 1})
    with pytest.raises(LLMError, match=r"^LLM anthropic/claude-x failed after 2 attempts: HTTP 500: boom"):
        backend.chat(HELLO, temperature=0, max_tokens=10)


def test_local_servers_need_no_key(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fake_llm.script("from ollama")
    backend = make_backend("llm:ollama/qwen2.5-coder", {"base_url": fake_llm.openai_url})
    assert backend.chat(HELLO, temperature=0, max_tokens=10).text == "from ollama"
    assert backend.name == "ollama/qwen2.5-coder"


def test_custom_provider_with_base_url_and_named_key(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_GATEWAY_KEY", "gw-key-777777")
    fake_llm.script("via gateway")
    backend = make_backend("llm:gateway/some/model", {"base_url": fake_llm.openai_url, "api_key_env": "MY_GATEWAY_KEY"})
    assert backend.chat(HELLO, temperature=0, max_tokens=10).text == "via gateway"
    assert fake_llm.requests[0].headers["authorization"] == "Bearer gw-key-777777"
    assert fake_llm.requests[0].body["model"] == "some/model"


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        make_backend("llm:openai/gpt-4.1-mini", {})
    with pytest.raises(LLMError, match="unknown LLM provider 'nope'"):
        make_backend("llm:nope/model", {})
    with pytest.raises(LLMError, match="name the model"):
        make_backend("llm:openai", {})
    with pytest.raises(LLMError, match="api_key_env"):
        make_backend("llm:openai/gpt-4.1", {"api_key": "sk-in-the-spec"})
    assert parse_use("llm:openrouter/meta/llama-3") == ("openrouter", "meta/llama-3")
    assert parse_use("llm:local") == ("local", "")


def test_prices() -> None:
    assert price_of("openai", "gpt-4.1-mini") == (0.4, 1.6)
    assert price_of("openai", "gpt-4o-mini-2024-07-18") == (0.15, 0.6)  # longest prefix wins
    assert price_of("ollama", "qwen2.5-coder") == (0.0, 0.0)
    assert price_of("openai", "mystery-model") is None
    assert cost_usd("openai", "gpt-4.1", 1_000_000, 500_000) == pytest.approx(2.0 + 4.0)
    assert cost_usd("openai", "mystery-model", 10, 10, {"mystery-model": [1.0, 2.0]}) == pytest.approx(3e-5)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(retries=5, backoff=1.0, backoff_max=4.0)
    delays = [policy.delay(attempt) for attempt in range(6) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert max(delays) > 2.0  # grows beyond the base
    assert policy.delay(0, retry_after=10.0) == 4.0
