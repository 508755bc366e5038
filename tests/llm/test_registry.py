"""The one table of providers, and every place that lists them kept to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reporlm import cli
from reporlm.config import load_settings
from reporlm.llm.prices import price_of
from reporlm.llm.registry import (
    OFFERED,
    PROVIDERS,
    api_key_from,
    default_models,
    default_provider,
    make_client,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_offers_exactly_the_offered_providers() -> None:
    for command in ("ask", "plan"):
        with pytest.raises(SystemExit):
            cli._parser().parse_args([command, "q", "--provider", "scripted"])
        for name in OFFERED:
            assert cli._parser().parse_args([command, "q", "--provider", name]).provider == name
    assert "scripted" not in OFFERED


def test_the_extension_setting_lists_the_offered_providers() -> None:
    package = json.loads((ROOT / "client-vscode" / "package.json").read_text("utf-8"))
    setting = package["contributes"]["configuration"]["properties"]["reporlm.provider"]
    assert setting["enum"] == ["", *OFFERED], "client-vscode/package.json drifted from llm/registry.py"
    assert len(setting["enumDescriptions"]) == len(setting["enum"])


def test_keys_and_the_default_provider_come_from_the_table() -> None:
    assert default_provider({"ANTHROPIC_API_KEY": "  "}) == "local", "a blank key selects nothing"
    assert default_provider({"ANTHROPIC_API_KEY": "sk-x"}) == "anthropic"
    assert api_key_from({"OPENAI_API_KEY": " k \n"}, "openai") == "k"
    assert api_key_from({"OPENAI_API_KEY": "k"}, "local") is None
    # The settings read the key by the same rule, blank keys included.
    assert load_settings(None, env={"ANTHROPIC_API_KEY": " "}).api_key is None
    assert load_settings(None, env={"OPENAI_API_KEY": "k"}, overrides={"provider": "openai"}).api_key == "k"
    for name, row in PROVIDERS.items():
        assert default_models(name) == (row.root_model, row.sub_model)


def test_an_unknown_provider_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of anthropic, openai, local, scripted"):
        make_client("nope")


def test_the_extension_stores_each_key_under_the_provider_s_own_variable() -> None:
    import re

    constants = (ROOT / "client-vscode" / "src" / "constants.ts").read_text("utf-8")
    found = dict(re.findall(r"(\w+): \{ secret: '[^']+', env: '(\w+)' \}", constants))
    assert found == {name: row.key_env for name, row in PROVIDERS.items() if row.key_env}


def test_every_billed_provider_has_prices_for_its_default_models() -> None:
    # Otherwise the default dollar cap would not count the default models' calls.
    for row in PROVIDERS.values():
        if not row.free:
            missing = [m for m in (row.root_model, row.sub_model) if price_of(m) is None]
            assert not missing, f"{row.name}: add prices for {missing} to llm/prices.py"
