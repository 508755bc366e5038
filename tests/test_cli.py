"""`reporlm ask` as a CI job runs it: a real subprocess, the openai provider against a local fake API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fake_api import FakeAPI
from fake_api import openai_chat as chat


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")
    }
    clean.update(REPORLM_CACHE_DIR=str(tmp_path / "cache"), **env)
    return subprocess.run(
        [sys.executable, "-m", "reporlm", *args], capture_output=True, text=True, env=clean, timeout=120
    )


def ask(
    fake: FakeAPI, repo: Path, tmp_path: Path, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["ask", "Where are retries configured?", "--repo", str(repo), "--provider", "openai"]
    args += ["--base-url", fake.url + "/v1", "--model", "m", "--trace", str(tmp_path / "trace.jsonl"), *extra]
    return run_cli(args, tmp_path, **env)


def test_answer_as_markdown_with_verified_citations(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.queue(200, chat("```repl\nprint(repo.grep('MAX_RETRIES =')[0])\n```"))
    answer = "Retries are set at `shop/retry.py:3`; see also shop/retry.py:400 and shop/retry.py:11."
    fake_api.queue(200, chat(f"FINAL({answer})"))
    done = ask(fake_api, small_repo, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Retries are set at `shop/retry.py:3`")
    footer = "Citations: 1 verified, 1 not seen (real lines the run never looked at), 1 not verified"
    assert footer in done.stdout
    assert "- not seen: `shop/retry.py:11`" in done.stdout
    assert "not verified: `shop/retry.py:400` (shop/retry.py has 12 lines)" in done.stdout
    # The model's code ran and its output went back in the second request.
    second = fake_api.received[1].body["messages"][-1]["content"]
    assert "shop/retry.py:3: MAX_RETRIES = 3" in second or "shop/retry.py" in second
    assert (tmp_path / "trace.jsonl").is_file()


def test_an_answer_without_line_citations_says_so_in_the_footer(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.queue(200, chat("```repl\nprint(repo.definitions('with_retries'))\n```"))
    fake_api.queue(200, chat("FINAL(shop/retry.py::with_retries)"))
    done = ask(fake_api, small_repo, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "shop/retry.py::with_retries\n\n---\nCitations: none (no `path:line` in the answer)" in done.stdout


def test_json_and_partial_exit_code(fake_api: FakeAPI, small_repo: Path, tmp_path: Path) -> None:
    fake_api.queue(200, chat("```repl\nx = len(repo.files())\nprint(x)\n```"))
    fake_api.queue(200, chat("Probably shop/retry.py:3, but I ran out of turns."))
    done = ask(fake_api, small_repo, tmp_path, "--json", "--max-iterations", "1")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["partial"] is True and data["reason"] == "iterations"
    assert data["answer"] == "Probably shop/retry.py:3, but I ran out of turns."
    assert data["citations"] == [
        {"path": "shop/retry.py", "start": 3, "end": 3, "verified": True, "reason": ""}
    ]
    assert data["usage"]["root"]["input_tokens"] == 200
    assert data["trace_file"] == str(tmp_path / "trace.jsonl")


def test_provider_error_exit_code_and_no_key_in_output(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.always(
        401, {"error": {"message": "bad key sk-cli-secret-123456", "type": "invalid_request_error"}}
    )
    done = ask(fake_api, small_repo, tmp_path, OPENAI_API_KEY="sk-cli-secret-123456")
    assert done.returncode == 3
    assert "provider failed" in done.stderr
    assert "sk-cli-secret-123456" not in done.stderr + done.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_cli(["ask", "q", "--repo", str(tmp_path / "nope"), "--provider", "openai"], tmp_path)
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    bad_flag = run_cli(["ask"], tmp_path)
    assert bad_flag.returncode == 2


def test_verbose_trace_goes_to_stderr_only(fake_api: FakeAPI, small_repo: Path, tmp_path: Path) -> None:
    fake_api.queue(200, chat("```repl\nprint(len(repo.files()))\n```"))
    fake_api.queue(200, chat("FINAL(Five files, e.g. shop/retry.py:3.)"))
    done = ask(fake_api, small_repo, tmp_path, "-v")
    assert done.returncode == 0, done.stderr
    assert "iteration 1/30" in done.stderr and "print(len(repo.files()))" in done.stderr
    assert "iteration 1/30" not in done.stdout and done.stdout.startswith("Five files")


def test_a_bad_thread_count_is_a_usage_error(small_repo: Path, tmp_path: Path) -> None:
    flag = run_cli(["ask", "q", "--repo", str(small_repo), "--local-threads", "0"], tmp_path)
    assert flag.returncode == 2 and "local_threads must be a whole number of CPU threads" in flag.stderr
    env = run_cli(["ask", "q", "--repo", str(small_repo)], tmp_path, REPORLM_LOCAL_THREADS="all")
    assert env.returncode == 2 and "REPORLM_LOCAL_THREADS='all'" in env.stderr


def test_the_prefix_cache_flag_reaches_the_settings() -> None:
    from reporlm.cli import _overrides, _parser

    def overrides(*flags: str) -> dict[str, object]:
        return _overrides(_parser().parse_args(["ask", "q", *flags]))

    assert "local_prefix_cache" not in overrides()  # unset: the file, environment or default decide
    assert overrides("--no-local-prefix-cache")["local_prefix_cache"] is False
    assert overrides("--local-prefix-cache")["local_prefix_cache"] is True


def test_a_malformed_provider_reply_is_a_provider_error_with_a_clear_message(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    # A proxy answering 200 with a page that is not JSON, then a completion without content.
    fake_api.queue(200, b"<html>upstream timed out</html>")
    not_json = ask(fake_api, small_repo, tmp_path)
    no_content = chat("x")
    no_content["choices"][0]["message"] = {"role": "assistant", "content": {"parts": 1}}
    fake_api.queue(200, no_content)
    no_text = ask(fake_api, small_repo, tmp_path)
    for done, expected in (
        (not_json, "the reply is not valid JSON (JSONDecodeError"),
        (no_text, "malformed reply: the message content is {'parts': 1}, not text"),
    ):
        assert done.returncode == 3, done.stderr
        assert "provider failed" in done.stderr and expected in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_full_disk_under_the_trace_still_prints_the_answer(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.queue(200, chat("```repl\nprint(repo.grep('MAX_RETRIES =')[0])\n```"))
    fake_api.queue(200, chat("FINAL(Retries: shop/retry.py:3.)"))
    args = ["ask", "q", "--repo", str(small_repo), "--provider", "openai", "--base-url", fake_api.url + "/v1"]
    done = run_cli([*args, "--model", "m", "--trace", "/dev/full", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"] == "Retries: shop/retry.py:3."
    assert answer["trace_file"] != "/dev/full", "the server's own trace, not the one that failed"
    assert done.stderr.rstrip().endswith(
        "reporlm: the trace could not be written to /dev/full: [Errno 28] No space left on device"
    )


def test_a_trace_path_that_cannot_be_created_is_a_usage_error(small_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    trace = tmp_path / "a-file" / "t.jsonl"
    done = run_cli(["ask", "q", "--repo", str(small_repo), "--trace", str(trace)], tmp_path)
    assert done.returncode == 2 and f"reporlm: --trace {trace}:" in done.stderr
