from reporlm.engine.parsing import (
    FinalMarker,
    echoes_an_error,
    find_code,
    find_final,
    normalize_code,
    truncate,
    without_stray_lines,
)


def test_first_repl_block_only() -> None:
    msg = "Let me look.\n```repl\nprint(1)\n```\nand then\n```repl\nprint(2)\n```"
    assert find_code(msg) == "print(1)\n"


def test_python_fence_and_stray_language_line() -> None:
    assert find_code("```python\nx = 1\n```") == "x = 1\n"
    assert find_code("```\npython\nx = repo.files()\n```") == "x = repo.files()\n"


def test_untagged_fence_must_look_like_code() -> None:
    assert find_code("```\nsome output text\n```") is None
    assert find_code("```\nimport re\n```") == "import re\n"


def test_unclosed_fence_still_yields_code() -> None:
    assert find_code("```repl\nprint('cut off')") == "print('cut off')\n"


def test_no_code() -> None:
    assert find_code("I think the answer is 4.") is None


def test_final_text_tolerant_to_case_and_quotes() -> None:
    assert find_final('FINAL("It is in a.py:3")') == FinalMarker(text="It is in a.py:3")
    assert find_final("Done.\nFinal(The answer (with parens) is here)") == FinalMarker(
        text="The answer (with parens) is here"
    )
    assert find_final('final("""multi\nline""")') == FinalMarker(text="multi\nline")


def test_final_var_text_convention() -> None:
    assert find_final("FINAL_VAR(answer)") == FinalMarker(variable="answer")
    assert find_final('final_var("answer")') == FinalMarker(variable="answer")


def test_final_inside_code_is_not_text_convention() -> None:
    assert find_final("```repl\nFINAL('x')\n```") is None


def test_final_must_start_a_line() -> None:
    assert find_final("you may call FINAL(x) later") is None


def test_truncate_keeps_head_and_tail_and_counts_the_cut() -> None:
    text = "a" * 100 + "b" * 100
    out = truncate(text, 60)
    assert out.startswith("a" * 40)
    assert out.endswith("b" * 20)
    assert "[... 140 characters cut ...]" in out
    assert truncate("short", 60) == "short"


def test_normalize_code_ignores_comments_and_blank_lines() -> None:
    assert normalize_code("x = 1  # first\n\nprint(x)\n") == normalize_code("x = 1\nprint(x)")
    assert normalize_code("print('#not a comment')") != normalize_code("print('')")
    assert normalize_code("if x:\n  y(") == normalize_code("if x:\n    y(  ")


def test_unindented_lines_that_are_not_python_are_dropped_when_the_rest_parses() -> None:
    code = 'x = 1\nThe answer is src/a.py:3.\nFINAL_VAR("answer")\n'
    assert without_stray_lines(code) == ('x = 1\nFINAL_VAR("answer")\n', ["The answer is src/a.py:3."])
    # An indented line could change what the rest means, and code that stays broken is left whole.
    for kept in ("for x in y:\n    print(x\nz = 1\n", "x = (1,\n", "ANSWER:\n", "valid = 1\n"):
        assert without_stray_lines(kept) == (kept, [])
    # Past MAX_SKIPPED_LINES of them, the block is cut before the first (a made-up list after code).
    many = "x = 1\n" + "not python here\n" * 10
    assert without_stray_lines(many) == ("x = 1\n", ["not python here"] * 10)
    assert without_stray_lines("not python\n" * 10) == ("not python\n" * 10, [])


def test_an_answer_marker_that_parses_as_an_annotation_is_cut_with_what_follows() -> None:
    # `ANSWER: src/app/cli.py` is a bare annotation: running it would evaluate `src / app / cli.py`.
    code = 'found = 1\nanswer = "x"\nANSWER: src/app/cli.py\nsrc/app/main.py\nFINAL_VAR("answer")\n'
    kept, skipped = without_stray_lines(code)
    assert kept == 'found = 1\nanswer = "x"\nFINAL_VAR("answer")\n'
    assert skipped == ["ANSWER: src/app/cli.py", "src/app/main.py"]
    # A reply cut at its token limit ends in a syntax error below the markers: cut at the first.
    cut = 'answer = "x"\nANSWER: src/a.py\nsrc/b.py\nANSWER: src/c.py\nANSWER:'
    assert without_stray_lines(cut) == (
        'answer = "x"\n',
        ["ANSWER: src/a.py", "src/b.py", "ANSWER: src/c.py", "ANSWER:"],
    )
    # An annotation with a value assigns: it is code.
    assert without_stray_lines("limit: int = 3\nprint(limit)\n") == ("limit: int = 3\nprint(limit)\n", [])


def test_a_copied_error_message_is_recognised() -> None:
    assert echoes_an_error('  File "<block 2>", line 1\n    x\nIndentationError: unexpected indent\n')
    assert echoes_an_error("Traceback (most recent call last):\n  File ...")
    assert not echoes_an_error('print("File \\"<block 1>\\"")')
