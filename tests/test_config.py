from pathlib import Path

import pytest

from reporlm.config import ConfigError, load_settings


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.reporlm]\nprovider = "openai"\nmodel = "from-file"\nsub_model = "file-sub"\n'
        "[tool.reporlm.budget]\nmax_iterations = 7\nmax_cost_usd = 0.5\n"
    )
    env = {"REPORLM_MODEL": "from-env"}
    settings = load_settings(tmp_path, env=env, overrides={"limits": {"max_cost_usd": 2.0}, "model": None})
    assert settings.provider == "openai"
    assert settings.model == "from-env"
    assert settings.sub_model == "file-sub"
    assert settings.limits.max_iterations == 7
    assert settings.limits.max_cost_usd == 2.0
    assert load_settings(tmp_path, env=env, overrides={"model": "from-flag"}).model == "from-flag"


def test_dotfile_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.reporlm]\nmodel = "py"\n')
    (tmp_path / ".reporlm.toml").write_text('model = "dot"\n')
    assert load_settings(tmp_path, env={}).model == "dot"


def test_a_repository_cannot_redirect_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / ".reporlm.toml").write_text('base_url = "http://evil.example/v1"\napi_key_file = "/tmp/x"\n')
    settings = load_settings(tmp_path, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    assert settings.base_url is None and settings.api_key_file is None
    assert "ignoring 'base_url'" in caplog.text


def test_api_key_from_env_or_file_and_never_in_repr(tmp_path: Path) -> None:
    settings = load_settings(None, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    assert settings.api_key == "sk-ant-secret-value"
    assert "sk-ant-secret-value" not in repr(settings)
    assert "sk-ant-secret-value" not in str(settings.public())
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    from_file = load_settings(None, env={}, overrides={"provider": "openai", "api_key_file": str(key_file)})
    assert from_file.api_key == "sk-from-file"
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        load_settings(None, env={}, overrides={"api_key_file": str(tmp_path / "missing")})


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    (tmp_path / ".reporlm.toml").write_text("modle = 'typo'\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(tmp_path, env={})
    (tmp_path / ".reporlm.toml").write_text("[budget]\nmax_iteratoins = 3\n")
    with pytest.raises(ConfigError, match="unknown budget limit"):
        load_settings(tmp_path, env={})


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".reporlm.toml").write_text("model = \n")
    with pytest.raises(ConfigError, match="cannot read reporlm settings"):
        load_settings(tmp_path, env={})


def test_local_threads_from_file_env_and_flags(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={}).local_threads is None  # every usable core, chosen by the client
    (tmp_path / ".reporlm.toml").write_text("local_threads = 1\n")
    assert load_settings(tmp_path, env={}).local_threads == 1
    env = {"REPORLM_LOCAL_THREADS": " 3 "}
    assert load_settings(tmp_path, env=env).local_threads == 3
    assert load_settings(tmp_path, env=env, overrides={"local_threads": 2}).local_threads == 2


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        (
            {"REPORLM_LOCAL_THREADS": "many"},
            {},
            r"REPORLM_LOCAL_THREADS='many': local_threads must be a whole",
        ),
        ({"REPORLM_LOCAL_THREADS": "1.5"}, {}, r"REPORLM_LOCAL_THREADS='1.5'"),
        ({}, {"local_threads": 0}, r"local_threads must be a whole number of CPU threads, at least 1, not 0"),
        ({}, {"local_threads": -2}, r"at least 1, not -2"),
        ({}, {"local_threads": 2.5}, r"not 2\.5"),
        ({}, {"local_threads": True}, r"not True"),
        ({}, {"local_threads": "4"}, r"not '4'"),
    ],
)
def test_local_threads_must_be_a_positive_whole_number(
    env: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env=env, overrides=overrides)


def test_editor_options_set_threads_and_trace_retention_over_the_environment() -> None:
    from reporlm.lsp.options import normalize, split

    overrides, _ = split(normalize({"localThreads": 3, "traceMaxAgeDays": 7, "traceMaxMb": 50}))
    env = {"REPORLM_LOCAL_THREADS": "1", "REPORLM_TRACE_MAX_AGE_DAYS": "30", "REPORLM_TRACE_MAX_MB": "10"}
    settings = load_settings(None, env=env, overrides=overrides)
    assert (settings.local_threads, settings.trace_max_age_days, settings.trace_max_mb) == (3, 7.0, 50.0)


def test_the_local_prefix_cache_from_file_env_flags_and_editor_options(tmp_path: Path, caplog) -> None:
    from reporlm.lsp.options import normalize, split

    settings = load_settings(tmp_path, env={})
    assert settings.local_prefix_cache is True and settings.local_prefix_cache_mb == 1024.0
    # A repository may turn it off (that only costs time), but not size a folder all repositories share.
    (tmp_path / ".reporlm.toml").write_text("local_prefix_cache = false\nlocal_prefix_cache_mb = 1e9\n")
    settings = load_settings(tmp_path, env={})
    assert settings.local_prefix_cache is False and settings.local_prefix_cache_mb == 1024.0
    assert "local_prefix_cache_mb" in caplog.text
    env = {"REPORLM_LOCAL_PREFIX_CACHE": " ON ", "REPORLM_LOCAL_PREFIX_CACHE_MB": "64"}
    settings = load_settings(tmp_path, env=env)
    assert settings.local_prefix_cache is True and settings.local_prefix_cache_mb == 64.0
    flag = {"local_prefix_cache": False}  # --no-local-prefix-cache
    assert load_settings(tmp_path, env=env, overrides=flag).local_prefix_cache is False
    overrides, _ = split(normalize({"localPrefixCache": False, "localPrefixCacheMb": 10}))
    settings = load_settings(None, env=env, overrides=overrides)
    assert (settings.local_prefix_cache, settings.local_prefix_cache_mb) == (False, 10.0)


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ({"REPORLM_LOCAL_PREFIX_CACHE": "maybe"}, {}, r"PREFIX_CACHE='maybe': .* must be 1 or 0"),
        ({}, {"local_prefix_cache": "no"}, r"local_prefix_cache must be true or false, not 'no'"),
        ({}, {"local_prefix_cache": 0}, r"must be true or false, not 0"),
        ({"REPORLM_LOCAL_PREFIX_CACHE_MB": "big"}, {}, r"local_prefix_cache_mb must be a size in MB"),
        ({}, {"local_prefix_cache_mb": -1}, r"local_prefix_cache_mb must be a size in MB, 0 or more"),
    ],
)
def test_bad_local_prefix_cache_settings_are_named(
    env: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env=env, overrides=overrides)
