"""The CI recipe in examples/github-actions: its comment script run for real, and the workflow's
handling of untrusted text."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fake_api import FakeAPI
from fake_api import openai_chat as chat

from .conftest import server_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "github-actions"
SCRIPT = EXAMPLES / "reporlm-pr-comment.sh"


def comment(verb: str, text: str, repo: Path, fake: FakeAPI, tmp_path: Path, flags: str = "", **env: str):
    environment = {
        **server_env(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "REPORLM_PROVIDER": "openai",
        "REPORLM_BASE_URL": fake.url + "/v1",
        "REPORLM_MODEL": "m",
        "REPORLM_REPO": str(repo),
        "REPORLM_TRACE": str(tmp_path / "trace.jsonl"),
        "REPORLM_FLAGS": flags,
        **env,
    }
    out = tmp_path / "comment.md"
    done = subprocess.run(
        ["bash", str(SCRIPT), verb, text, str(out)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    return done, out


def test_an_answer_becomes_a_comment(fake_api: FakeAPI, small_repo: Path, tmp_path: Path) -> None:
    fake_api.queue(200, chat("```repl\nprint(repo.grep('MAX_RETRIES ='))\n```"))
    fake_api.queue(200, chat("FINAL(Retries are set at `shop/retry.py:3`.)"))
    done, out = comment("ask", "Where are retries set?\nAnd why?", small_repo, fake_api, tmp_path)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("<!-- reporlm -->\n### reporlm · Answer\n\n> Where are retries set?\n> And why?\n")
    assert "Retries are set at `shop/retry.py:3`." in text and "Citations: 1 verified" in text
    assert "**Partial**" not in text
    assert re.search(r"checked against the repository at [0-9a-f]{7}", text)
    assert (tmp_path / "trace.jsonl").is_file()


def test_a_partial_answer_is_posted_and_says_so(fake_api: FakeAPI, small_repo: Path, tmp_path: Path) -> None:
    fake_api.queue(200, chat("```repl\nx = len(repo.files())\nprint(x)\n```"))
    fake_api.queue(200, chat("Probably shop/retry.py:3."))
    done, out = comment(
        "plan", "make retries configurable", small_repo, fake_api, tmp_path, "--max-iterations 1"
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "### reporlm · Change plan" in text and "> **Partial**: reporlm ran out of budget" in text


def test_a_provider_error_fails_the_job_without_a_comment(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    fake_api.always(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
    done, out = comment("ask", "q", small_repo, fake_api, tmp_path, OPENAI_API_KEY="sk-ci-secret-0123456789")
    assert done.returncode == 3
    assert "reporlm ask failed (exit 3); no comment written" in done.stderr
    assert not out.exists() and "sk-ci-secret-0123456789" not in done.stderr


def test_untrusted_text_reaches_the_shell_only_through_environment_variables() -> None:
    workflow = (EXAMPLES / "reporlm.yml").read_text()
    untrusted = re.compile(r"github\.event\.(comment\.body|pull_request\.(title|body)|issue\.(title|body))")
    for line in workflow.splitlines():
        if untrusted.search(line) and "${{" in line:
            assert re.match(r"^\s+[A-Z_]+: \$\{\{ github\.event\.[a-z_.]+ \}\}$", line), line
    # The job runs the comment script from the trusted checkout, never from the pull request's.
    assert "bash trusted/.github/workflows/reporlm-pr-comment.sh" in workflow
    assert "REPORLM_REPO: pr" in workflow
