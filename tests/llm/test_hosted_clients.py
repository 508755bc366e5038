"""What every hosted-API client does alike, each through its real SDK against the local fake API."""

from __future__ import annotations

import traceback

import pytest
from hosted_cases import HOSTED, RETRY_NOW, Hosted, complete

from fake_api import FakeAPI
from reporlm.llm.base import Message, ProviderError


@pytest.fixture(params=HOSTED, ids=lambda hosted: hosted.name)
def hosted(request: pytest.FixtureRequest) -> Hosted:
    return request.param


async def test_rate_limit_is_retried_by_the_sdk(fake_api: FakeAPI, hosted: Hosted) -> None:
    fake_api.queue(429, hosted.rate_limited, RETRY_NOW)
    fake_api.queue(200, hosted.answer("ok"))
    completion = await complete(hosted.client(fake_api), model=hosted.model)
    assert completion.text == "ok"
    assert len(fake_api.received) == 2
    assert fake_api.received[1].headers["x-stainless-retry-count"] == "1"


async def test_persistent_overload_becomes_a_retryable_provider_error(
    fake_api: FakeAPI, hosted: Hosted
) -> None:
    status, body = hosted.overloaded
    fake_api.always(status, body, RETRY_NOW)
    with pytest.raises(ProviderError) as info:
        await complete(hosted.client(fake_api, max_retries=2), model=hosted.model)
    assert info.value.status == status
    assert info.value.retryable
    assert "overloaded" in str(info.value)
    assert len(fake_api.received) == 3  # the first try and two SDK retries


async def test_auth_failure_never_reveals_the_key(fake_api: FakeAPI, hosted: Hosted) -> None:
    fake_api.always(401, lambda req: hosted.rejects_key(req.headers["authorization"]))
    with pytest.raises(ProviderError) as info:
        await complete(hosted.client(fake_api), model=hosted.model)
    err = info.value
    assert err.status == 401
    assert not err.retryable
    assert hosted.rejection in str(err)
    assert hosted.key not in str(err)
    assert hosted.key not in "".join(traceback.format_exception(err))
    assert len(fake_api.received) == 1  # a 401 is not retried


async def test_environment_supplies_key_and_base_url(
    fake_api: FakeAPI, hosted: Hosted, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_variable, url_variable = hosted.env
    monkeypatch.setenv(key_variable, hosted.key)
    monkeypatch.setenv(url_variable, f"{fake_api.url}{hosted.path}")
    fake_api.queue(200, hosted.answer("from env"))
    completion = await complete(
        hosted.new(max_retries=0), [Message("user", "hi")], model=hosted.model, max_tokens=8
    )
    assert completion.text == "from env"
    assert fake_api.received[0].headers["authorization"] == f"Bearer {hosted.key}"
    assert "system" not in fake_api.received[0].body


async def test_unreachable_server_is_a_retryable_provider_error(unused_tcp_port: int, hosted: Hosted) -> None:
    client = hosted.new(
        api_key=hosted.key, base_url=f"http://127.0.0.1:{unused_tcp_port}{hosted.path}", max_retries=0
    )
    with pytest.raises(ProviderError) as info:
        await complete(client, [Message("user", "hi")], model=hosted.model, max_tokens=8)
    assert info.value.retryable
    assert info.value.status is None


@pytest.mark.parametrize(
    ("hosted", "shape"),
    [(hosted, shape) for hosted in HOSTED for shape in hosted.malformed],
    ids=[f"{hosted.name}: {shape}" for hosted in HOSTED for shape in hosted.malformed],
)
async def test_a_malformed_reply_is_a_clear_provider_error(
    fake_api: FakeAPI, hosted: Hosted, shape: str
) -> None:
    body, headers, expected = hosted.malformed[shape]
    fake_api.queue(200, body, headers)
    with pytest.raises(ProviderError) as info:
        await complete(hosted.client(fake_api), model=hosted.model)
    assert str(info.value).startswith(f"{hosted.name}: ") and expected in str(info.value)
    error = info.value  # no SDK or parser traceback chained to it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
