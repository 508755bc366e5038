"""Choosing a provider and building its client, without loading SDKs nobody uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reporlm.llm import PROVIDERS, default_models, default_provider, make_client
from reporlm.llm.openai_client import OpenAIClient
from reporlm.llm.scripted import ScriptedClient


def test_default_provider_follows_the_anthropic_key() -> None:
    assert default_provider({"ANTHROPIC_API_KEY": "sk-ant-x"}) == "anthropic"
    assert default_provider({"ANTHROPIC_API_KEY": ""}) == "local"
    assert default_provider({"ANTHROPIC_API_KEY": "  "}) == "local"
    assert default_provider({"OPENAI_API_KEY": "sk-x"}) == "local"
    assert default_provider({}) == "local"


def test_default_models_pair_a_root_with_a_reader() -> None:
    for provider in PROVIDERS:
        root, sub = default_models(provider)
        assert root and sub
    assert default_models("local") == ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b")
    root, sub = default_models("anthropic")
    assert "sonnet" in root and "haiku" in sub
    with pytest.raises(ValueError, match="unknown model provider"):
        default_models("nope")


async def test_make_client_builds_the_named_provider() -> None:
    scripted = make_client("scripted", replies=["hi"], latency=0.0)
    assert isinstance(scripted, ScriptedClient) and scripted.remaining == 1
    openai_client = make_client("openai", base_url="http://127.0.0.1:1/v1", api_key="k", max_retries=0)
    assert isinstance(openai_client, OpenAIClient) and openai_client.provider == "openai"
    await openai_client.aclose()
    with pytest.raises(ValueError, match="unknown model provider"):
        make_client("gemini")
    with pytest.raises(ValueError, match="no base_url"):
        make_client("scripted", base_url="http://x")


def test_importing_the_package_loads_no_sdk() -> None:
    code = (
        "import sys, reporlm.llm, reporlm.llm.registry; "
        "print(sorted(m for m in ('anthropic', 'openai', 'llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_client_classes_are_exported_lazily() -> None:
    code = (
        "import sys, reporlm.llm as llm; "
        "assert 'openai' not in sys.modules; "
        "cls = llm.OpenAIClient; "
        "print(cls.__name__, 'openai' in sys.modules, 'anthropic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["OpenAIClient", "True", "False"]
