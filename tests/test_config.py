from pathlib import Path

import pytest

from reporlm.config import ConfigError, load_settings


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.reporlm]\nblock_seconds = 20\n[tool.reporlm.budget]\nmax_iterations = 7\nmax_cost_usd = 0.5\n"
    )
    env = {"REPORLM_PROVIDER": "openai", "REPORLM_MODEL": "gpt-5", "REPORLM_SUB_MODEL": "gpt-5-mini"}
    settings = load_settings(tmp_path, env=env, overrides={"limits": {"max_cost_usd": 2.0}, "model": None})
    assert (settings.provider, settings.model, settings.sub_model) == ("openai", "gpt-5", "gpt-5-mini")
    assert settings.limits.max_iterations == 7 and settings.block_seconds == 20
    assert settings.limits.max_cost_usd == 2.0  # the user's own cap wins over the file's, as flags do
    assert load_settings(tmp_path, env=env, overrides={"model": "gpt-4.1"}).model == "gpt-4.1"


def test_dotfile_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.reporlm.budget]\nmax_iterations = 5\n")
    (tmp_path / ".reporlm.toml").write_text("[budget]\nmax_iterations = 4\n")
    assert load_settings(tmp_path, env={}).limits.max_iterations == 4


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


def test_local_threads_from_env_and_flags_not_the_repository(tmp_path: Path) -> None:
    assert load_settings(tmp_path, env={}).local_threads is None  # every usable core, chosen by the client
    (tmp_path / ".reporlm.toml").write_text("local_threads = 1\n")
    assert load_settings(tmp_path, env={}).local_threads is None  # a resource setting: the user's
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


# -- a repository's settings may only lower limits --------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('provider = "local"', "provider"),
        ('model = "./weights/evil.gguf"', "model"),  # the local provider would load a file of the repository
        ('model = "claude-unpriced-preview"', "model"),  # an unpriced model would switch the dollar cap off
        ('sub_model = "claude-opus-4-1"', "sub_model"),
        ("block_memory_mb = 65536", "block_memory_mb"),
        ("concurrency = 512", "concurrency"),
        ("local_threads = 64", "local_threads"),
        ('base_url = "http://evil.example/v1"', "base_url"),
        ('api_key_file = "/root/.ssh/id_rsa"', "api_key_file"),
        ('api_key = "sk-from-the-repo"', "api_key"),
        ("trace_max_age_days = 0.0001", "trace_max_age_days"),
        ("trace_max_mb = 0.0001", "trace_max_mb"),
    ],
)
def test_a_repository_cannot_choose_models_endpoints_keys_or_resources(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, line: str, key: str
) -> None:
    (tmp_path / ".reporlm.toml").write_text(line + "\n")
    settings = load_settings(tmp_path, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    defaults = load_settings(None, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"})
    assert settings == defaults
    assert f"ignoring {key!r} from the repository's .reporlm.toml" in caplog.text


def test_a_repository_may_lower_limits_but_never_raise_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".reporlm.toml").write_text(
        "block_seconds = 600\noutput_chars = 1000000\n"
        "[budget]\nmax_iterations = 300\nmax_cost_usd = 1000.0\nmax_sub_calls = 10\nmax_depth = 0\n"
        "max_seconds = 60\n"
    )
    settings = load_settings(tmp_path, env={})
    limits = settings.limits
    assert (limits.max_iterations, limits.max_cost_usd) == (30, 5.0)  # raised: ignored
    assert (settings.block_seconds, settings.output_chars) == (60.0, 6000)
    assert (limits.max_sub_calls, limits.max_depth, limits.max_seconds) == (10, 0, 60)  # lowered: applied
    for raised in (
        "max_iterations = 300",
        "max_cost_usd = 1000.0",
        "block_seconds = 600",
        "output_chars = 1000000",
    ):
        assert f"ignoring {raised} from the repository's .reporlm.toml" in caplog.text
    # What the user sets is the user's, lower or higher than the file's.
    mine = load_settings(tmp_path, env={}, overrides={"block_seconds": 120, "limits": {"max_sub_calls": 50}})
    assert (mine.block_seconds, mine.limits.max_sub_calls) == (120, 50)


@pytest.mark.parametrize("value", ['"many"', "true", "-1", "nan", "2.5"])
def test_a_repository_limit_must_be_a_number(tmp_path: Path, value: str) -> None:
    (tmp_path / ".reporlm.toml").write_text(f"[budget]\nmax_iterations = {value}\n")
    with pytest.raises(ConfigError, match=r"max_iterations in \.reporlm\.toml must be a whole number"):
        load_settings(tmp_path, env={})


# -- a dollar cap is never switched off in silence ---------------------------------------------------


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    import reporlm.config

    monkeypatch.setattr(reporlm.config, "_warned_caps", set())


def test_a_dollar_cap_with_an_unpriced_model_is_refused(fresh_warnings: None) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-x"}
    with pytest.raises(ConfigError, match=r"max_cost_usd = 2\) cannot be enforced.*'claude-next-preview'"):
        load_settings(
            None, env=env, overrides={"model": "claude-next-preview", "limits": {"max_cost_usd": 2.0}}
        )
    with pytest.raises(ConfigError, match="'my-reader'"):  # the sub-model counts too
        load_settings(None, env=env, overrides={"sub_model": "my-reader", "limits": {"max_cost_usd": 2.0}})
    remote = {"provider": "openai", "base_url": "https://llm.example.com/v1", "model": "their-model"}
    with pytest.raises(ConfigError, match="cannot be enforced"):
        load_settings(None, env={}, overrides={**remote, "limits": {"max_cost_usd": 1.0}})


def test_a_dollar_cap_the_repository_lowers_is_refused_too(tmp_path: Path, fresh_warnings: None) -> None:
    (tmp_path / ".reporlm.toml").write_text("[budget]\nmax_cost_usd = 0.5\n")
    with pytest.raises(ConfigError, match="cannot be enforced"):
        load_settings(tmp_path, env={"ANTHROPIC_API_KEY": "k"}, overrides={"model": "claude-next-preview"})


def test_the_default_dollar_cap_with_an_unpriced_model_is_a_loud_warning(
    caplog: pytest.LogCaptureFixture, fresh_warnings: None
) -> None:
    settings = load_settings(None, env={"ANTHROPIC_API_KEY": "k"}, overrides={"model": "claude-next-preview"})
    assert settings.limits.max_cost_usd == 5.0
    assert "no price for the anthropic model 'claude-next-preview'" in caplog.text
    assert "only the token caps (3000000 input, 200000 output tokens) bound this run" in caplog.text


def test_a_local_endpoint_named_by_openai_base_url_is_free_too(fresh_warnings: None) -> None:
    env = {"OPENAI_BASE_URL": "http://localhost:11434/v1"}
    overrides = {"provider": "openai", "model": "qwen3:8b", "limits": {"max_cost_usd": 1.0}}
    assert load_settings(None, env=env, overrides=overrides).limits.max_cost_usd == 1.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"provider": "local"},
        {"provider": "scripted"},
        {"provider": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "my-vllm-model"},
        {"provider": "anthropic", "model": "claude-sonnet-4-6-20260101"},  # priced through its base id
        {"provider": "openai", "model": "gpt-5", "sub_model": "gpt-5-mini"},
    ],
)
def test_free_or_priced_models_keep_their_dollar_cap(
    overrides: dict[str, str], caplog: pytest.LogCaptureFixture, fresh_warnings: None
) -> None:
    settings = load_settings(
        None, env={"OPENAI_API_KEY": "k"}, overrides={**overrides, "limits": {"max_cost_usd": 1.0}}
    )
    assert settings.limits.max_cost_usd == 1.0
    assert "no price" not in caplog.text


def test_the_local_prefix_cache_from_file_env_flags_and_editor_options(tmp_path: Path, caplog) -> None:
    from reporlm.lsp.options import normalize, split

    settings = load_settings(tmp_path, env={})
    assert settings.local_prefix_cache is True and settings.local_prefix_cache_mb == 1024.0
    # A repository's file sets neither: the cache folder is the user's, shared by every repository.
    (tmp_path / ".reporlm.toml").write_text("local_prefix_cache = false\nlocal_prefix_cache_mb = 1e9\n")
    settings = load_settings(tmp_path, env={})
    assert settings.local_prefix_cache is True and settings.local_prefix_cache_mb == 1024.0
    assert "'local_prefix_cache'" in caplog.text and "'local_prefix_cache_mb'" in caplog.text
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


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("max_seconds", "soon", "max_seconds must be a number ≥ 0, not 'soon'"),
        ("max_iterations", 2.5, "max_iterations must be a whole number ≥ 0, not 2.5"),
        ("max_cost_usd", -1, "max_cost_usd must be a number ≥ 0, not -1"),
        ("max_depth", True, "max_depth must be a whole number ≥ 0, not True"),
        ("max_seconds", float("nan"), "max_seconds must be a number ≥ 0, not nan"),
        ("max_sub_calls", [3], r"max_sub_calls must be a whole number ≥ 0, not \[3\]"),
    ],
)
def test_the_users_budget_limits_of_the_wrong_type_are_errors_not_crashes_later(
    limit: str, value: object, message: str
) -> None:
    # From flags, the environment or an editor's options (a repository's file is checked on its own).
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env={}, overrides={"limits": {limit: value}})


def test_budget_limits_take_numbers_and_none_where_there_may_be_no_limit() -> None:
    limits = load_settings(None, overrides={"limits": {"max_seconds": 1.5, "max_sub_calls": None}}).limits
    assert limits.max_seconds == 1.5 and limits.max_sub_calls is None
    with pytest.raises(ConfigError, match="max_iterations must be a whole number ≥ 0, not None"):
        load_settings(None, overrides={"limits": {"max_iterations": None}})


def test_a_repository_limit_of_four_hundred_digits_is_ignored_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / ".reporlm.toml").write_text(f"[budget]\nmax_iterations = {10**400}\n")
    assert load_settings(tmp_path, env={}).limits.max_iterations == 30  # higher than 30: not a lowering


def test_a_2gb_settings_file_is_refused_without_being_read(tmp_path: Path) -> None:
    with (tmp_path / "pyproject.toml").open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: costs no disk, but read whole it would be 2 GB of memory
    with pytest.raises(ConfigError, match=r"pyproject\.toml is larger than 1024 KB"):
        load_settings(tmp_path, env={})
