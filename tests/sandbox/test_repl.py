"""What the model's code sees: namespace, host functions, records, errors, output, FINAL."""

from __future__ import annotations

from textwrap import dedent

from reporlm.sandbox import Sandbox, SandboxLimits

from .conftest import FakeHost, SandboxFactory, run_ok


async def test_stdlib_imports_work(sandbox: Sandbox) -> None:
    modules = [
        *("json", "re", "collections", "itertools", "math", "pathlib", "textwrap", "ast", "functools"),
        *("dataclasses", "typing", "statistics", "difflib", "hashlib", "tokenize", "inspect", "string"),
        *("datetime", "csv", "io", "heapq", "bisect", "fnmatch", "random", "decimal", "fractions"),
        *("operator", "enum", "pprint", "zlib", "unicodedata", "keyword", "copy", "struct", "base64"),
        *("zoneinfo", "sqlite3"),
    ]
    output = await run_ok(
        sandbox, f"import {', '.join(modules)}\nprint('imported', len([{', '.join(modules)}]))"
    )
    assert f"imported {len(modules)}" in output


async def test_state_persists_between_blocks(sandbox: Sandbox) -> None:
    await run_ok(sandbox, "import textwrap\ncounter = 41\ndef bump(n):\n    return n + 1")
    result = await sandbox.execute("counter = bump(counter)\nprint(textwrap.shorten('a b c', 10), counter)")
    assert result.output == "a b c 42\n"
    assert result.reset is False
    assert {"counter", "bump", "textwrap"} <= set(result.variables)
    assert not {"repo", "llm_query", "FINAL", "FINAL_VAR"} & set(result.variables)


async def test_last_expression_is_printed(sandbox: Sandbox) -> None:
    assert await run_ok(sandbox, "x = [1, 2]\nx + [3]") == "[1, 2, 3]\n"
    assert await run_ok(sandbox, "None") == ""
    assert await run_ok(sandbox, "print('once')") == "once\n"


async def test_output_capture_includes_stderr_and_tracebacks(sandbox: Sandbox) -> None:
    code = dedent("""\
        import sys
        print('to stdout')
        sys.stderr.write('to stderr\\n')

        def f():
            return 1 / 0
        f()
        """)
    result = await sandbox.execute(code)
    assert "to stdout\nto stderr\n" in result.output
    assert result.error == "ZeroDivisionError: division by zero"
    # The model's own line numbers and lines; none of the worker's frames.
    assert 'File "<block 1>", line 7, in <module>' in result.output
    assert 'File "<block 1>", line 6, in f' in result.output
    assert "return 1 / 0" in result.output
    assert "repl.py" not in result.output and "worker.py" not in result.output


async def test_traceback_reaches_into_earlier_blocks(sandbox: Sandbox) -> None:
    await run_ok(sandbox, "def parse(text):\n    return int(text)")
    result = await sandbox.execute("parse('x')")
    assert 'File "<block 1>", line 2, in parse' in result.output
    assert "return int(text)" in result.output
    assert result.error is not None and result.error.startswith("ValueError")


async def test_syntax_error_is_reported_with_its_line(sandbox: Sandbox) -> None:
    result = await sandbox.execute("x = 1\nif x\n    pass")
    assert result.error is not None and result.error.startswith("SyntaxError") and "line 2" in result.error
    assert "if x" in result.output
    assert "x = 1" not in result.output
    assert await run_ok(sandbox, "print('still here')") == "still here\n"


async def test_output_is_capped_keeping_head_and_tail(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(limits=SandboxLimits(output_chars=1000))
    output = await run_ok(sandbox, "print('START' + 'a' * 100_000 + 'END')")
    assert output.startswith("START") and output.rstrip().endswith("END")
    assert "characters of output cut" in output
    assert len(output) < 1200


async def test_host_functions_are_called_with_their_arguments(sandbox: Sandbox, host: FakeHost) -> None:
    output = await run_ok(
        sandbox,
        "print(repo.read('a.py', start=2))\nprint(llm_query('hi'))\nprint(llm_query_batched(['a', 'b']))\n"
        "print(repo.git.log(n=3))\nprint(repo.files())",
    )
    assert output.splitlines() == [
        "text of a.py",
        "answer to 'hi'",
        "[\"answer to 'a'\", \"answer to 'b'\"]",
        "{'name': 'repo.git.log', 'args': [], 'kwargs': {'n': 3}}",
        "['a.py', 'b.py']",
    ]
    assert host.calls[0] == ("repo.read", ["a.py"], {"start": 2})


async def test_records_cross_as_read_only_records(sandbox: Sandbox) -> None:
    output = await run_ok(
        sandbox,
        "hits = repo.grep('x')\nh = hits[0]\npath, line, text = h\n"
        "print(h)\nprint(h.path, h.line, path, line, text, type(h).__name__)\n"
        "try:\n    h.path = 'z'\nexcept AttributeError:\n    print('read-only')",
    )
    assert output.splitlines() == [
        "Hit(path='a.py', line=3, text='x = 1')",
        "a.py 3 a.py 3 x = 1 Hit",
        "read-only",
    ]


async def test_handler_exceptions_are_reraised_in_the_worker(sandbox: Sandbox) -> None:
    output = await run_ok(
        sandbox,
        "for path in ('missing.py', 'secret.py', 'weird'):\n"
        "    try:\n        repo.read(path)\n"
        "    except Exception as e:\n        print(type(e).__name__, e)",
    )
    assert output.splitlines() == [
        "FileNotFoundError no such file in the repository: missing.py",
        "PermissionError outside the scope",
        "RuntimeError custom failure",
    ]
    result = await sandbox.execute("repo.read('missing.py')")
    assert result.error == "FileNotFoundError: no such file in the repository: missing.py"


async def test_arguments_that_cannot_cross_raise_type_error(sandbox: Sandbox, host: FakeHost) -> None:
    result = await sandbox.execute("llm_query(object())")
    assert result.error is not None and result.error.startswith("TypeError: llm_query()")
    assert host.calls == []


async def test_reserved_names_are_restored(sandbox: Sandbox) -> None:
    await sandbox.execute("repo = 1\nllm_query = None\nFINAL = print\ndel FINAL_VAR")
    result = await sandbox.execute("try:\n    repo.read = None\nexcept AttributeError as e:\n    print(e)")
    assert "read-only" in result.output
    await sandbox.execute(
        "type(repo).read = staticmethod(lambda *a: 'hacked')\nrepo.git.__class__.log = None"
    )
    output = await run_ok(
        sandbox, "print(repo.read('a.py'), llm_query('q'))\nprint(repo.git.log())\nFINAL('ok')"
    )
    assert "text of a.py answer to 'q'" in output
    assert "hacked" not in output


async def test_help_shows_the_docstrings(sandbox: Sandbox) -> None:
    output = await run_ok(sandbox, "help(repo.grep)\nprint(repo)\nhelp(repo.git.log)")
    assert "repo.grep(regex, glob=None, under=None, max_results=200) -> list[Hit]" in output
    assert "repo.git.log(path=None, n=20)" in output
    assert "<repo: files, git, grep, read>" in output


async def test_final_and_final_var(sandbox: Sandbox) -> None:
    assert (await sandbox.execute("x = 1")).final is None
    assert (await sandbox.execute("FINAL('The answer: `a.py:3`')")).final == "The answer: `a.py:3`"
    assert (await sandbox.execute("answer = ['a', 1]\nFINAL_VAR('answer')")).final == "['a', 1]"
    assert (await sandbox.execute("FINAL_VAR(answer)")).final == "['a', 1]"
    assert (await sandbox.execute("FINAL_VAR('plain text, not a name')")).final == "plain text, not a name"
    # A variable's name that was never assigned is an error the model sees, not the answer "answer".
    missing = await sandbox.execute("FINAL_VAR('answr')")
    assert missing.final is None and "no variable named answr" in missing.output
    assert (await sandbox.execute("FINAL(42)")).final == "42"
    result = await sandbox.execute("FINAL('partial')\n1/0")
    assert result.final == "partial" and result.error is not None


async def test_get_variable(sandbox: Sandbox) -> None:
    await run_ok(
        sandbox,
        "summary = {'a': 1}\nclass Loud:\n    def __str__(self):\n        raise ValueError('no')\nl = Loud()",
    )
    assert await sandbox.get_variable("summary") == "{'a': 1}"
    assert await sandbox.get_variable("nothing") is None
    assert "str() of l failed" in (await sandbox.get_variable("l") or "")


async def test_input_and_exit_do_not_end_the_session(sandbox: Sandbox) -> None:
    result = await sandbox.execute("input('?')")
    assert result.error is not None and result.error.startswith("EOFError")
    result = await sandbox.execute("import sys\nsys.exit(3)")
    assert result.error == "SystemExit: 3" and not result.reset
    assert await run_ok(sandbox, "print('alive')") == "alive\n"


async def test_tampered_builtins_are_restored(sandbox: Sandbox) -> None:
    await sandbox.execute("import builtins\nbuiltins.isinstance = builtins.len = None\nbuiltins.extra = 1")
    output = await run_ok(sandbox, "print(len('abc'), isinstance(1, int), hasattr(__builtins__, 'extra'))")
    assert output == "3 True False\n"
