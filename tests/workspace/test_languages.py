"""Language names: the parsed languages come from grammars/languages.toml alone."""

from __future__ import annotations

from reporlm.workspace.grammars import load_grammars
from reporlm.workspace.languages import _OTHER_EXTENSIONS, _OTHER_FILENAMES, language_of


def test_every_file_a_grammar_parses_is_counted_as_that_grammar_s_language() -> None:
    for grammar in load_grammars().grammars.values():
        for ext in grammar.extensions:
            assert language_of(f"src/x.{ext}") == grammar.name, ext
        for name in grammar.filenames:
            assert language_of(f"deep/{name.capitalize()}") == grammar.name, name
    assert (language_of("a.pyw"), language_of("a.tpp"), language_of("a.phtml")) == ("Python", "C++", "PHP")


def test_the_other_languages_repeat_nothing_of_the_grammar_table() -> None:
    grammars = load_grammars().grammars.values()
    names = {g.name for g in grammars}
    extensions = {ext for g in grammars for ext in g.extensions}
    filenames = {name for g in grammars for name in g.filenames}
    assert not names & set(_OTHER_EXTENSIONS), "a parsed language is listed twice"
    assert not extensions & {ext for exts in _OTHER_EXTENSIONS.values() for ext in exts}
    assert not filenames & set(_OTHER_FILENAMES)
    assert language_of("x.kt") == "Kotlin" and language_of("Dockerfile") == "Dockerfile"
    assert language_of(".gitignore") is None and language_of("LICENSE") is None
