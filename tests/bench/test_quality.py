"""The harness end to end on two questions: the real CLI or the real OpenAI client against a local fake
API, the real scorer, and a run interrupted and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bench.records import read_records
from evalpack_helpers import FILES, QUESTIONS, TinyPack

from bench import quality
from fake_api import FakeAPI, Received
from fake_api import openai_chat as chat

CHECKOUT = Path(__file__).resolve().parents[2]
Q_WHERE, Q_IMPORTERS = (q["id"] for q in QUESTIONS)


def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REPORLM_")
    }
    return {**clean, "REPORLM_CACHE_DIR": str(tmp_path / "reporlm-cache")}


def harness(pack: TinyPack, out: Path, fake: FakeAPI, *extra: str) -> list[str]:
    provider = ["--provider", "openai", "--base-url", fake.url + "/v1", "--model", "m"]
    return [*pack.args(out), "--set", str(pack.questions), *provider, *extra]


def start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.quality", *args],
        cwd=CHECKOUT,
        env=env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def user_text(request: Received) -> str:
    return request.body["messages"][-1]["content"]


def test_direct_run_interrupted_then_resumed(fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path) -> None:
    out = tmp_path / "run"
    release = threading.Event()
    fake_api.queue(200, chat("It is `helper`, defined in tinylib/core.py.\n\nANSWER:\ntinylib/core.py:4"))
    # The second question's call hangs until the test lets it go: the run is interrupted meanwhile.
    fake_api.always(200, lambda r: release.wait(30) and chat("ANSWER:\ntinylib/cli.py\ntests/test_core.py"))
    args = harness(tiny_pack, out, fake_api, "--mode", "direct", "--concurrency", "1")
    try:
        first = start(args, tmp_path)
        wait_for(lambda: len(fake_api.received) == 2 and len(read_records(out)) == 1, "the second call")
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == quality.EXIT_INTERRUPTED, err
        assert "rerun the same command to resume" in err
        assert list(read_records(out)) == [Q_WHERE]
    finally:
        release.set()

    second = start(args, tmp_path)
    table, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "1 already answered" in err
    # Only the unanswered question was asked again.
    assert len(fake_api.received) == 3
    assert "which modules import `helper`" in user_text(fake_api.received[2])

    records = read_records(out)
    where, importers = records[Q_WHERE], records[Q_IMPORTERS]
    assert where["score"] == 1.0 and where["metrics"]["loc_acc"] == 1.0
    assert importers["score"] == pytest.approx(0.5)  # one of two right, one wrong: P = R = 0.5
    assert importers["metrics"]["precision"] == pytest.approx(0.5)
    assert where["prediction"] == {"id": Q_WHERE, "answer_text": "tinylib/core.py:4"}
    assert where["answer_marked"] is True
    assert where["tokens"] == {"root": {"input": 100, "output": 10}, "sub": {"input": 0, "output": 0}}
    assert where["iterations"] == 1 and where["sub_calls"] == 0 and where["partial"] is False
    assert where["error"] is None and where["mode"] == "direct" and where["model"] == "m"
    assert where["context"]["files_shown"] >= 1 and where["context"]["files_total"] == len(FILES)
    trace = [json.loads(line) for line in (out / where["trace_file"]).read_text().splitlines()]
    assert trace[0]["kind"] == "context" and trace[-1]["kind"] == "reply"

    # What the model saw: numbered source of the library first, then the question and the format.
    sent = user_text(fake_api.received[0])
    assert "--- tinylib/core.py (lines 1-14)\n1: import os" in sent
    assert "4: def helper(x):" in sent
    assert sent.index("tinylib/core.py") < sent.index("tests/test_core.py")
    assert sent.rstrip().endswith("ANSWER:\n<path>:<line>")
    assert '"gold"' not in json.dumps(fake_api.received[0].body)

    run = json.loads((out / "run.json").read_text())
    assert run["mode"] == "direct" and run["provider"] == "openai" and len(run["invocations"]) == 2
    assert run["invocations"][0]["command"].startswith("python -m bench.quality ")
    assert run["machine"]["cpus"] >= 1
    assert "| direct · m | 2 |" in table and "**0.75**" in table

    # The pack's scorer, run as its own command on the stored predictions, agrees.
    gold = ["--gold", str(tiny_pack.questions), "--pack", str(tiny_pack.pack)]
    gold += ["--json", str(tmp_path / "s.json")]
    scored = subprocess.run(
        [sys.executable, str(tiny_pack.scorer), "--pred", str(out / "predictions.jsonl"), *gold],
        capture_output=True,
        text=True,
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads((tmp_path / "s.json").read_text())["overall"]["micro_primary"] == pytest.approx(0.75)


def test_rlm_mode_runs_reporlm_ask(fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path) -> None:
    look = "```repl\nprint(repo.grep('helper'))\n```"
    fake_api.queue(200, chat(look))
    fake_api.queue(200, chat("FINAL(`helper` is defined at tinylib/core.py:4.\nANSWER:\ntinylib/core.py:4)"))
    fake_api.queue(200, chat(look))
    fake_api.queue(
        200,
        chat(
            "FINAL(Imported at tinylib/__init__.py:1 and tinylib/cli.py:1.\n"
            "ANSWER:\ntinylib/__init__.py\ntinylib/cli.py)"
        ),
    )
    out = tmp_path / "run"
    args = harness(tiny_pack, out, fake_api, "--mode", "rlm", "--concurrency", "1", "--max-iterations", "5")
    done = subprocess.run(
        [sys.executable, "-m", "bench.quality", *args],
        cwd=CHECKOUT,
        env=env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    records = read_records(out)
    assert [records[q]["score"] for q in (Q_WHERE, Q_IMPORTERS)] == [1.0, 1.0]
    where = records[Q_WHERE]
    assert where["iterations"] == 2 and where["partial"] is False and where["reason"] == "final"
    assert where["tokens"]["root"] == {"input": 200, "output": 20}
    assert where["answer"].startswith("`helper` is defined at tinylib/core.py:4.")
    # The CLI wrote its trace where the harness asked, inside the run folder.
    assert where["trace_file"] == f"traces/{Q_WHERE}.jsonl"
    kinds = [json.loads(line)["kind"] for line in (out / where["trace_file"]).read_text().splitlines()]
    assert "iteration" in kinds and "final" in kinds
    # The question reached the engine with its answer format, and the code ran in the corpus repo.
    assert any("ANSWER:\n<path>:<line>" in m["content"] for m in fake_api.received[0].body["messages"])
    assert "tinylib/core.py:4: def helper(x):" in user_text(fake_api.received[1])
    run = json.loads((out / "run.json").read_text())
    assert run["cli_flags"] == ["--max-iterations", "5"] and "context_tokens" not in run


def test_retrieval_runs_questions_concurrently(
    fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path
) -> None:
    # Each call waits until the other one has arrived too: a run asking one at a time would fail here.
    both = threading.Barrier(2, timeout=20)

    def reply(request: Received) -> dict[str, Any]:
        both.wait()
        if "which modules import" in user_text(request):
            return chat("ANSWER:\ntinylib/__init__.py\ntinylib/cli.py")
        return chat("ANSWER:\ntinylib/core.py:5")

    fake_api.always(200, reply)
    out = tmp_path / "run"
    code = quality.main(harness(tiny_pack, out, fake_api, "--mode", "retrieval", "--concurrency", "2"))
    assert code == 0
    records = read_records(out)
    assert records[Q_WHERE]["score"] == 1.0  # line 5 is within the scorer's ±3 of the def on line 4
    assert records[Q_IMPORTERS]["score"] == 1.0
    sent = user_text(fake_api.received[0]) + user_text(fake_api.received[1])
    assert "--- tinylib/core.py (lines 1-14)" in sent  # a chunk, labelled with its lines
    assert records[Q_WHERE]["context"]["pieces"] >= 1


def test_errors_are_recorded_and_retried_on_resume(
    fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path
) -> None:
    fake_api.always(400, {"error": {"message": "model m does not exist", "type": "invalid_request_error"}})
    out = tmp_path / "run"
    args = harness(
        tiny_pack, out, fake_api, "--mode", "direct", "--concurrency", "1", "--stop-after-errors", "0"
    )
    assert quality.main(args) == quality.EXIT_ERRORS
    records = read_records(out)
    assert all(r["score"] == 0.0 and "model m does not exist" in r["error"] for r in records.values())
    assert (out / "predictions.jsonl").read_text() == ""  # nothing to score

    fake_api.default = None
    fake_api.queue(200, chat("ANSWER:\ntinylib/core.py:4"))
    fake_api.queue(200, chat("ANSWER:\ntinylib/cli.py"))
    assert quality.main(args) == 0
    assert [r["error"] for r in read_records(out).values()] == [None, None]


def test_a_folder_holding_another_run_is_refused(
    fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.always(200, chat("ANSWER:\ntinylib/core.py:4"))
    out = tmp_path / "run"
    assert quality.main(harness(tiny_pack, out, fake_api, "--mode", "direct", "--limit", "1")) == 0
    capsys.readouterr()
    code = quality.main(harness(tiny_pack, out, fake_api, "--mode", "retrieval", "--limit", "1"))
    assert code == quality.EXIT_USAGE
    assert "holds another run (mode: 'direct' there, 'retrieval' now)" in capsys.readouterr().err


def test_stops_after_errors_in_a_row(fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path) -> None:
    fake_api.always(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
    out = tmp_path / "run"
    args = harness(
        tiny_pack, out, fake_api, "--mode", "direct", "--concurrency", "1", "--stop-after-errors", "1"
    )
    assert quality.main(args) == quality.EXIT_ERRORS
    assert len(read_records(out)) == 1  # the second question was never asked
    assert len(fake_api.received) == 1


def reporlm_ask_processes(marker: str) -> list[int]:
    """Live `reporlm ask` processes whose command line mentions ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"reporlm" in argv and b"ask" in argv and any(marker.encode() in a for a in argv) and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_sigterm_ends_the_run_and_its_reporlm_ask_child(
    fake_api: FakeAPI, tiny_pack: TinyPack, tmp_path: Path
) -> None:
    release = threading.Event()
    fake_api.always(200, lambda r: release.wait(30) and chat("FINAL(tinylib/core.py:4)"))
    out = tmp_path / "run"
    harness_proc = start(harness(tiny_pack, out, fake_api, "--mode", "rlm", "--concurrency", "1"), tmp_path)
    try:
        wait_for(lambda: len(fake_api.received) == 1, "the first model call of reporlm ask")
        assert reporlm_ask_processes(str(out))
        harness_proc.send_signal(signal.SIGTERM)
        _, err = harness_proc.communicate(timeout=60)
        assert harness_proc.returncode == quality.EXIT_INTERRUPTED, err
        wait_for(lambda: not reporlm_ask_processes(str(out)), "reporlm ask to end", timeout=20)
        assert read_records(out) == {}
    finally:
        release.set()
        if harness_proc.poll() is None:
            harness_proc.kill()
