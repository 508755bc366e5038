"""The RLM loop end to end with scripted models, a real sandbox worker and a real repository."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from reporlm.engine.budget import Limits
from reporlm.engine.options import EngineOptions
from reporlm.engine.parsing import joined_by_character
from reporlm.engine.rlm import Models
from reporlm.engine.session import Session
from reporlm.engine.trace import read_trace
from reporlm.llm.base import Completion, Message, ProviderError, Usage
from reporlm.llm.scripted import ScriptedClient
from reporlm.sandbox import SandboxLimits
from reporlm.workspace import Repo


def repl(code: str) -> str:
    return f"Let me look.\n```repl\n{code}\n```"


def session_for(repo: Path, root: ScriptedClient, sub: object | None = None, **options: object) -> Session:
    models = Models(root=root, root_model="scripted-root", sub=sub or root, sub_model="scripted-sub")  # type: ignore[arg-type]
    opts = EngineOptions(sandbox=SandboxLimits(wall_seconds=5, cpu_seconds=5), require_evidence=False)
    return Session(Repo(repo), models, replace(opts, **options))  # type: ignore[arg-type]


async def test_code_runs_and_its_output_reaches_the_model(small_repo: Path, tmp_path: Path) -> None:
    root = ScriptedClient(
        [
            repl("hits = repo.grep(r'MAX_RETRIES =')\nprint(hits[0].path, hits[0].line)"),
            repl('answer = "Retries are set by `MAX_RETRIES` at shop/retry.py:3."\nFINAL_VAR("answer")'),
        ]
    )
    trace = tmp_path / "trace.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("Where are retries configured?", trace_file=trace)
    assert result.answer == "Retries are set by `MAX_RETRIES` at shop/retry.py:3."
    assert not result.partial and result.reason == "final"
    assert [c.label() for c in result.citations if c.verified] == ["shop/retry.py:3"]
    # The second root call saw what the first block printed.
    assert "shop/retry.py 3" in root.calls[1].messages[-1].content
    # Metadata about the repository, not its text, went into the first message: sizes, languages
    # and the ranked map of definitions (signatures, never bodies).
    first = root.calls[0].messages[1].content
    assert "5 files" in first and "Python" in first and "gave up" not in first
    assert "shop/retry.py\n  3: MAX_RETRIES = 3\n  6: def with_retries(fn, retries=MAX_RETRIES):" in first
    kinds = [e["kind"] for e in read_trace(trace)]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert {"iteration", "model_call", "code", "output", "final"} <= set(kinds)
    assert result.trace_file == str(trace)


async def test_text_final_outside_code(small_repo: Path) -> None:
    root = ScriptedClient(["I know this one.\nFINAL(It is `shop/retry.py:3`.)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "It is `shop/retry.py:3`." and result.iterations == 1


async def test_final_var_as_text_reads_the_repl_variable(small_repo: Path) -> None:
    root = ScriptedClient([repl("ans = 'from a variable'"), "FINAL_VAR(ans)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "from a variable"


async def test_final_var_of_missing_variable_is_nudged(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL_VAR(nothing_here)", "FINAL(ok)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "ok"
    assert "names no variable" in root.calls[1].messages[-1].content


async def test_final_next_to_code_waits_for_the_code(small_repo: Path) -> None:
    root = ScriptedClient([repl("print(len(repo.files()))") + "\nFINAL(guess)", "FINAL(after looking)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "after looking"
    feedback = root.calls[1].messages[-1].content
    assert "5" in feedback and "ignored" in feedback


async def test_no_code_and_repeated_code_are_nudged(small_repo: Path, tmp_path: Path) -> None:
    root = ScriptedClient(
        ["Hmm, thinking.", repl("print('once')"), repl("print('once')  # again"), "FINAL(done)"]
    )
    trace = tmp_path / "t.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("q", trace_file=trace)
    assert result.answer == "done"
    assert "no ```repl code block" in root.calls[1].messages[-1].content
    assert "already ran exactly this code" in root.calls[3].messages[-1].content
    events = read_trace(trace)
    assert sum(e["kind"] == "code" for e in events) == 1
    assert [e["why"] for e in events if e["kind"] == "nudge"] == ["no code block", "repeated code"]
    # Greedy turns, except right after a nudge.
    assert [c.temperature for c in root.calls] == [0.0, 0.7, 0.0, 0.7]


async def test_iterations_run_out_then_one_answer_now_turn(small_repo: Path) -> None:
    root = ScriptedClient(
        [repl(f"x{i} = {i}\nprint(x{i})") for i in range(3)] + ["Best guess: shop/retry.py:3"]
    )
    async with session_for(small_repo, root, limits=Limits(max_iterations=3)) as session:
        result = await session.ask("q")
    assert result.partial and result.reason == "iterations"
    assert result.answer == "Best guess: shop/retry.py:3"
    assert "no turns left" in root.calls[-1].messages[-1].content
    assert len(root.calls) == 4 and result.iterations == 3


async def test_llm_query_goes_to_the_sub_model_and_is_cached(small_repo: Path) -> None:
    sub = ScriptedClient(responder=lambda msgs: f"summary of {len(msgs[-1].content)} chars")
    root = ScriptedClient(
        [
            repl(
                "text = repo.read('shop/retry.py')\nprint(llm_query('Summarise: ' + text))\n"
                "print(llm_query('Summarise: ' + text))"
            ),
            "FINAL(done)",
        ]
    )
    async with session_for(small_repo, root, sub) as session:
        result = await session.ask("q")
    assert len(sub.calls) == 1, "the identical second prompt came from the cache"
    assert sub.calls[0].model == "scripted-sub"
    assert "Summarise: import time" in sub.calls[0].messages[-1].content
    assert root.calls[1].messages[-1].content.count("summary of") == 2
    assert result.sub_calls == 1 and result.sub_usage.output_tokens > 0


class CountingClient:
    """A sub-model that records how many calls were in flight at once."""

    provider = "scripted"

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    async def complete(
        self, messages: Sequence[Message], *, model: str, max_tokens: int, temperature: float = 0.0
    ) -> Completion:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        return Completion(text=messages[-1].content.upper(), usage=Usage(1, 1))

    async def aclose(self) -> None:
        pass


async def test_llm_query_batched_runs_concurrently_up_to_the_limit(small_repo: Path) -> None:
    sub = CountingClient()
    root = ScriptedClient(
        [repl("out = llm_query_batched([f'p{i}' for i in range(10)])\nprint(out)"), "FINAL(x)"]
    )
    async with session_for(small_repo, root, sub, concurrency=3) as session:
        result = await session.ask("q")
    assert sub.peak == 3
    assert (
        "['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'P9']" in root.calls[1].messages[-1].content
    )
    assert result.sub_calls == 10


async def test_rlm_query_starts_a_child_that_sees_only_its_folder(small_repo: Path, tmp_path: Path) -> None:
    def root_model(messages: Sequence[Message]) -> str:
        question = messages[2].content  # after the system prompt and the repository context
        if "exploring only the folder `docs`" in question:  # the child run
            if len(messages) == 3:
                return repl("print(repo.files())")
            return repl("FINAL('child saw: ' + str(repo.files()))")
        if len(messages) == 3:
            return repl("r = rlm_query('What do the docs say?', scope='docs')\nprint(r)")
        return "FINAL(" + messages[-1].content.split("```")[1].strip() + ")"

    root = ScriptedClient(responder=root_model)
    trace = tmp_path / "t.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("q", trace_file=trace)
    assert result.answer == "child saw: ['docs/guide.md']"
    events = read_trace(trace)
    assert any(e["kind"] == "child_start" and e["scope"] == "docs" and not e["degraded"] for e in events)
    assert any(e["kind"] == "iteration" and e["depth"] == 1 for e in events)
    assert result.sub_calls == 1 and result.iterations == 2


async def test_rlm_query_at_max_depth_degrades_to_llm_query(small_repo: Path) -> None:
    sub = ScriptedClient(responder=lambda msgs: "sub says hi")
    root = ScriptedClient([repl("print(rlm_query('anything?', scope='docs'))"), "FINAL(x)"])
    async with session_for(small_repo, root, sub, limits=Limits(max_depth=0)) as session:
        await session.ask("q")
    assert sub.calls[0].messages[-1].content == "anything?"
    assert "sub says hi" in root.calls[1].messages[-1].content


async def test_sub_call_budget_is_enforced_in_the_host(small_repo: Path) -> None:
    sub = ScriptedClient(responder=lambda msgs: "ok")
    root = ScriptedClient(
        [
            repl(
                "print(llm_query('a'))\ntry:\n    llm_query('b')\n"
                "except RuntimeError as e:\n    print('refused:', e)"
            ),
            "FINAL(x)",
        ]
    )
    async with session_for(small_repo, root, sub, limits=Limits(max_sub_calls=1)) as session:
        result = await session.ask("q")
    assert (
        "refused: llm_query failed: budget exhausted: sub-calls (1/1)" in root.calls[1].messages[-1].content
    )
    assert len(sub.calls) == 1 and result.sub_calls == 1


async def test_dollar_budget_ends_the_run_with_a_partial_answer(small_repo: Path) -> None:
    class Pricey(ScriptedClient):
        async def complete(self, messages, *, model, max_tokens, temperature=0.0):  # type: ignore[no-untyped-def]
            c = await super().complete(messages, model=model, max_tokens=max_tokens)
            return replace(c, usage=replace(c.usage, cost_usd=0.6))

    root = Pricey([repl("print('step one')"), repl("print('step two')"), "FINAL(never)"])
    async with session_for(small_repo, root, limits=Limits(max_cost_usd=1.0)) as session:
        result = await session.ask("q")
    assert result.partial and result.reason == "dollars"
    assert len(root.calls) == 2, "no further call once the money is spent"
    assert "step two" in result.answer and result.usage.cost_usd == pytest.approx(1.2)


async def test_a_runaway_block_is_stopped_and_the_session_goes_on(small_repo: Path) -> None:
    root = ScriptedClient([repl("keep = 41\nwhile True:\n    pass"), repl("print(keep + 1)"), "FINAL(x)"])
    opts = {"sandbox": SandboxLimits(wall_seconds=1, cpu_seconds=5)}
    async with session_for(small_repo, root, **opts) as session:
        result = await session.ask("q")
    assert result.answer == "x"
    assert "wall-clock limit of 1 s" in root.calls[1].messages[-1].content
    # A pure-Python loop is interrupted inside the worker, so the REPL state survives.
    assert "42" in root.calls[2].messages[-1].content


async def test_follow_up_questions_share_the_repl(small_repo: Path) -> None:
    root = ScriptedClient(
        [repl("found = repo.files('*.md')"), "FINAL(first)", repl("print(found)"), "FINAL(second)"]
    )
    async with session_for(small_repo, root) as session:
        await session.ask("first question")
        second = await session.ask("follow-up")
    assert second.answer == "second"
    assert "found" in root.calls[2].messages[2].content, "the follow-up is told which variables exist"
    assert "['README.md', 'docs/guide.md']" in root.calls[3].messages[-1].content


async def test_root_provider_error_propagates(small_repo: Path) -> None:
    root = ScriptedClient([ProviderError("overloaded", status=529)])
    async with session_for(small_repo, root) as session:
        with pytest.raises(ProviderError):
            await session.ask("q")


async def test_repository_errors_reach_the_model_readably(small_repo: Path) -> None:
    root = ScriptedClient(
        [
            repl(
                "for call in (lambda: repo.read('../etc/passwd'), lambda: repo.grep('(')):\n"
                "    try:\n        call()\n    except Exception as e:\n        print(type(e).__name__, e)"
            ),
            "FINAL(x)",
        ]
    )
    async with session_for(small_repo, root) as session:
        await session.ask("q")
    out = root.calls[1].messages[-1].content
    assert "outside the repository" in out and "invalid regular expression" in out


async def test_json_result_shape(small_repo: Path) -> None:
    root = ScriptedClient(["FINAL(see shop/retry.py:3 and shop/retry.py:99)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    data = json.loads(json.dumps(result.to_json()))
    assert {"answer", "citations", "partial", "usage", "trace_id", "trace_file"} <= data.keys()
    assert [c["verified"] for c in data["citations"]] == [True, False]


async def test_a_block_stuck_in_c_is_killed_and_the_model_told_its_state_is_gone(small_repo: Path) -> None:
    root = ScriptedClient(
        [repl("keep = 1\nsum(range(10**13))"), repl("print('keep' in globals())"), "FINAL(x)"]
    )
    async with session_for(small_repo, root, sandbox=SandboxLimits(wall_seconds=1, cpu_seconds=5)) as session:
        result = await session.ask("q")
    assert result.answer == "x"
    stopped = root.calls[1].messages[-1].content
    assert "The block was stopped" in stopped and "variables from earlier turns are gone" in stopped
    assert "False" in root.calls[2].messages[-1].content


async def test_answers_without_evidence_are_turned_down_once_each(small_repo: Path) -> None:
    root = ScriptedClient(
        [
            "FINAL(a guess)",
            repl("n = len(repo.files())\nFINAL('It is in nowhere.py:3')"),
            "FINAL(Still nowhere.py:3)",
        ]
    )
    async with session_for(small_repo, root, require_evidence=True) as session:
        result = await session.ask("q")
    assert "without looking at the repository" in root.calls[1].messages[-1].content
    assert "nowhere.py:3: no such file" in root.calls[2].messages[-1].content
    assert result.answer == "Still nowhere.py:3" and result.iterations == 3 and not result.partial

    looked = ScriptedClient([repl("n = len(repo.files())\nFINAL(f'{n} files, e.g. shop/retry.py:3')")])
    async with session_for(small_repo, looked, require_evidence=True) as session:
        assert (await session.ask("q")).answer == "5 files, e.g. shop/retry.py:3"


async def test_a_model_stuck_repeating_itself_is_asked_to_answer_early(small_repo: Path) -> None:
    same = repl("print(len(repo.files()))")
    root = ScriptedClient([same] * 5 + ["Best effort: 5 files."])
    async with session_for(small_repo, root, max_nudges_in_a_row=4) as session:
        result = await session.ask("q")
    assert result.partial and result.reason == "stuck"
    assert result.iterations == 5 and result.answer == "Best effort: 5 files."


async def test_an_answer_citing_only_lines_the_run_never_saw_is_turned_down_once(small_repo: Path) -> None:
    root = ScriptedClient(
        [
            repl("n = len(repo.files())\nFINAL('It is at shop/retry.py:11')"),  # real, but never shown
            repl("print(repo.read('shop/retry.py', 10, 12))"),
            "FINAL(It is at shop/retry.py:11.)",
        ]
    )
    async with session_for(small_repo, root, require_evidence=True) as session:
        result = await session.ask("q")
    assert "None of the places your answer cites appeared in this run (shop/retry.py:11)" in (
        root.calls[1].messages[-1].content
    )
    assert [(c.label(), c.verified) for c in result.citations] == [("shop/retry.py:11", True)]

    stubborn = ScriptedClient(
        [repl("n = len(repo.files())\nFINAL('shop/retry.py:11')"), "FINAL(Still shop/retry.py:11)"]
    )
    async with session_for(small_repo, stubborn, require_evidence=True) as session:
        result = await session.ask("q")
    assert result.answer == "Still shop/retry.py:11" and not result.partial
    checked = [(c.verified, c.reason, c.exists) for c in result.citations]
    assert checked == [(False, "not seen in this run", True)]


async def test_an_answer_that_lists_files_or_symbols_needs_no_line_numbers(small_repo: Path) -> None:
    root = ScriptedClient([repl("n = repo.files()\nFINAL('- shop/orders.py::place\\n- shop/retry.py')")])
    async with session_for(small_repo, root, require_evidence=True) as session:
        result = await session.ask("Which files?")
    assert result.iterations == 1 and not result.partial


async def test_an_empty_answer_is_turned_down_once(small_repo: Path) -> None:
    nothing = "FINAL(Nothing matches `*.zz`; tried repo.files.)"
    root = ScriptedClient([repl("found = repo.files('*.zz')\nFINAL('')"), nothing, nothing])
    async with session_for(small_repo, root, require_evidence=True) as session:
        result = await session.ask("Which files end in .zz?")
    assert "Your answer is empty" in root.calls[1].messages[-1].content
    # An answer naming no place at all is then turned down once too, and the third is taken.
    assert "cites no place" in root.calls[2].messages[-1].content
    assert result.answer.startswith("Nothing matches") and result.iterations == 3


async def test_code_that_failed_may_run_again_once_other_code_has_run(small_repo: Path) -> None:
    answer = repl("answer = f'{len(found)} files: shop/retry.py:3'\nFINAL_VAR('answer')")
    root = ScriptedClient([answer, answer, repl("found = repo.files()"), answer])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    # Turn 1 fails (no `found` yet); the same block right after is a repeat; once `found` exists it runs.
    assert "NameError" in root.calls[1].messages[-1].content
    assert "You already ran exactly this code" in root.calls[2].messages[-1].content
    assert result.answer == "5 files: shop/retry.py:3" and result.iterations == 4


async def test_a_lookup_that_finds_nothing_says_why_and_what_exists(small_repo: Path) -> None:
    code = (
        "for x in repo.callers('with_retry') + repo.callers('place') + repo.definitions('retries_with'):\n"
        "    print(x)"
    )
    root = ScriptedClient([repl(code), "FINAL(done: shop/retry.py:6)"])
    async with session_for(small_repo, root) as session:
        await session.ask("q")
    output = root.calls[1].messages[-1].content
    assert "Note: repo.callers('with_retry') found nothing: no definition of that name." in output
    assert "Definitions with similar words: shop/retry.py::with_retries" in output
    assert "`place` is defined at shop/orders.py:4, but nothing calls it." in output
    assert "Note: repo.definitions('retries_with') found nothing" in output


async def test_a_block_ending_in_lines_that_are_not_python_runs_without_them(
    small_repo: Path, tmp_path: Path
) -> None:
    # What small models write: good code, then the answer template of the question as if it were code.
    block = 'hits = repo.grep(r"MAX_RETRIES =")\nprint(hits[0].path, hits[0].line)\nANSWER:\nshop/retry.py:3'
    root = ScriptedClient([repl(block), repl('answer = "shop/retry.py:3"\nFINAL_VAR("answer")')])
    trace = tmp_path / "t.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("q", trace_file=trace)
    assert result.answer == "shop/retry.py:3" and not result.partial
    told = root.calls[1].messages[-1].content
    assert "shop/retry.py 3" in told  # the block ran
    assert "not Python, so they were not run: `ANSWER:`, `shop/retry.py:3`" in told
    events = read_trace(trace)
    first = next(e["code"] for e in events if e["kind"] == "code")
    assert first.rstrip().endswith("print(hits[0].path, hits[0].line)")


async def test_a_copied_error_message_is_not_run_but_answered(small_repo: Path, tmp_path: Path) -> None:
    echo = '  File "<block 1>", line 3\n    ANSWER:\n           ^\nSyntaxError: invalid syntax'
    root = ScriptedClient([repl("print(1)"), repl(echo), "FINAL(done)"])
    trace = tmp_path / "t.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("q", trace_file=trace)
    assert result.answer == "done"
    assert "That block is the error message, not code" in root.calls[2].messages[-1].content
    assert sum(e["kind"] == "code" for e in read_trace(trace)) == 1


async def test_out_of_turns_the_answer_the_code_built_is_the_partial_answer(small_repo: Path) -> None:
    built = 'answer = "Retries: shop/retry.py:3"\nprint("built")'
    # The "answer now" turn brings only more code, no answer.
    root = ScriptedClient([repl(built), repl("print(2)"), "```repl\nprint(3)\n```"])
    async with session_for(small_repo, root, limits=Limits(max_iterations=2)) as session:
        result = await session.ask("q")
    assert result.partial and result.reason == "iterations"
    assert result.answer.startswith("Retries: shop/retry.py:3\n")
    assert "before the model called FINAL" in result.answer


async def test_an_answer_written_as_a_code_block_on_the_last_turn_is_taken_as_text(small_repo: Path) -> None:
    root = ScriptedClient([repl("print(1)"), "```repl\nANSWER:\nshop/retry.py:3\n```"])
    async with session_for(small_repo, root, limits=Limits(max_iterations=1)) as session:
        result = await session.ask("q")
    assert result.partial and result.answer == "ANSWER:\nshop/retry.py:3"


async def test_a_block_that_builds_the_answer_then_writes_prose_answers_with_it(
    small_repo: Path, tmp_path: Path
) -> None:
    block = (
        'hits = repo.grep("MAX_RETRIES =")\nanswer = f"{hits[0].path}:{hits[0].line}"\nprint(hits)\nANSWER:'
    )
    root = ScriptedClient([repl(block), "FINAL(never asked)"])
    trace = tmp_path / "t.jsonl"
    async with session_for(small_repo, root) as session:
        result = await session.ask("q", trace_file=trace)
    assert result.answer == "shop/retry.py:3" and not result.partial and len(root.calls) == 1
    assert any("taken as FINAL_VAR" in e.get("why", "") for e in read_trace(trace))


async def test_what_the_code_built_wins_over_a_list_made_up_after_it(small_repo: Path) -> None:
    # Small models retype (or invent) the answer as prose after the code that computed it.
    made_up = "\n".join(f"shop/x{i}.py::f{i}" for i in range(8))
    code = 'hits = repo.grep("MAX_RETRIES =")\nanswer = f"{hits[0].path}:{hits[0].line}"\n'
    block = f"{code}ANSWER:\n{made_up}"
    root = ScriptedClient([repl(block)])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "shop/retry.py:3" and not result.partial


async def test_prose_after_code_that_retypes_what_it_printed_is_the_answer(small_repo: Path) -> None:
    printed = 'print(*repo.grep("MAX_RETRIES ="), sep="\\n")'
    root = ScriptedClient([repl(f"{printed}\nANSWER:\nshop/retry.py:3"), "FINAL(never asked)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "shop/retry.py:3" and not result.partial and len(root.calls) == 1


async def test_prose_after_code_naming_what_it_never_printed_is_not_an_answer(small_repo: Path) -> None:
    printed = 'print(*repo.grep("MAX_RETRIES ="), sep="\\n")'
    made_up = "shop/retry.py:3\nshop/other.py::made_up"
    root = ScriptedClient([repl(f"{printed}\nANSWER:\n{made_up}"), "FINAL(done)"])
    async with session_for(small_repo, root) as session:
        result = await session.ask("q")
    assert result.answer == "done" and len(root.calls) == 2


async def test_an_answer_joined_one_character_per_line_is_rejoined(small_repo: Path) -> None:
    # The model meant one item but joined the string itself: "\n".join("`f` at a.py:3").
    code = 'found = repo.grep("MAX_RETRIES =")\nanswer = "\\n".join(f"{found[0].path}:{found[0].line}")'
    root = ScriptedClient([repl(code + '\nFINAL_VAR("answer")')])
    async with session_for(small_repo, root, require_evidence=True) as session:
        result = await session.ask("Where is MAX_RETRIES set?")
    assert result.answer == "shop/retry.py:3" and not result.partial
    assert [c.label() for c in result.citations if c.verified] == ["shop/retry.py:3"]


def test_only_a_whole_string_joined_by_character_counts_as_one() -> None:
    assert joined_by_character("\n".join("a.py:3\nb.py:4")) == "a.py:3\nb.py:4"
    assert joined_by_character("\n".join("short")) is None  # five one-letter lines could be meant
    assert joined_by_character("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nlm") is None
