"""What docs/editors.md tells editors to send is what the server takes.

The Helix block cannot run here (no Helix package), so its TOML is at least parsed, and the
initializationOptions it holds go through the server's own option checks.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from reporlm.config import load_settings
from reporlm.lsp import options, wire

DOC = Path(__file__).resolve().parents[2] / "docs" / "editors.md"


def test_the_helix_languages_toml_parses_and_its_options_are_server_options() -> None:
    (block,) = re.findall(r"```toml\n(.*?)\n```", DOC.read_text("utf-8"), re.DOTALL)
    config = tomllib.loads(block)
    server = config["language-server"]["reporlm"]
    assert [server["command"], *server["args"]] == ["reporlm", "serve"]
    assert "reporlm" in config["language"][0]["language-servers"]

    overrides, _ = options.split(options.normalize(server["config"]))
    settings = load_settings(None, env={}, overrides=overrides)
    assert settings.provider == "anthropic" and settings.limits.max_iterations == 20


def test_the_page_names_only_commands_the_server_has() -> None:
    named = set(re.findall(r"reporlm\.server\.[a-z]+", DOC.read_text("utf-8")))
    assert named and named <= set(wire.COMMANDS)
