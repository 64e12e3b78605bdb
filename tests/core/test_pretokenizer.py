"""The shell pre-tokenizer: units a user would recognise, and nothing ever lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from delta_core.tokenizer.pretokenizer import (
    ATOMIC_UNITS,
    PRETOKENIZER_VERSION,
    pretokenize,
    sorted_counts,
    unit_counts,
    units,
    word_units,
)

SHELLISH = st.lists(
    st.one_of(
        st.characters(),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.sampled_from(list(" \t\n'\"\\$`|&;<>(){}=-/~.:*0123456789")),
        st.sampled_from(["2>&1", "&&", "||", "$(", "--", "https://", "{{", "}}"]),
    ),
    max_size=40,
).map("".join)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(u.text, u.kind) for u in units(text)]


def test_the_issue_example_is_cut_into_sensible_units():
    got = kinds('git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log')
    assert got == [
        ("git", "word"),
        (" commit", "word"),
        (" -m", "flag"),
        (' "', "quote"),
        ("fix:", "word"),
        (" x", "word"),
        ('"', "quote"),
        (" &&", "operator"),
        (" git", "word"),
        (" push", "word"),
        (" origin", "word"),
        (" HEAD:main", "word"),
        (" 2>&1", "operator"),
        (" |", "operator"),
        (" tee", "word"),
        (" log", "word"),
    ]


def test_operators_redirections_and_substitutions_are_units():
    text = "a || b; c & d >> f 2> e < in << EOF <<< s $(pwd) `date` >&2 &> all |& x"
    ops = [u.text.strip() for u in units(text) if u.kind == "operator"]
    assert ops == [
        "||",
        ";",
        "&",
        ">>",
        "2>",
        "<",
        "<<",
        "<<<",
        "$(",
        ")",
        "`",
        "`",
        ">&2",
        "&>",
        "|&",
    ]


def test_flags_assignments_variables_paths_urls_numbers():
    got = kinds("FOO=1 ls --color=auto -la $HOME/.config ${X} ~/src/a.py https://x.org/a?b=c 8080")
    assert ("FOO=", "assign") in got
    assert (" --color=", "flag") in got and ("auto", "word") in got
    assert (" -la", "flag") in got
    assert (" $HOME", "variable") in got and ("/.config", "path") in got
    assert (" ${", "operator") in got and ("}", "operator") in got
    assert (" ~/src/a.py", "path") in got
    assert (" https://x.org/a?b=c", "url") in got
    assert (" 8080", "number") in got


def test_quotes_and_escapes_are_their_own_units():
    got = kinds('echo \'a b\' "c\\"d" e\\ f')
    assert [t for t, k in got if k == "quote"] == [" '", "'", ' "', '"']
    assert [t for t, k in got if k == "escape"] == ['\\"', "\\"]


def test_malformed_input_never_raises_and_loses_nothing():
    for text in [
        'echo "unbalanced',
        "echo 'x",
        "\\",
        "$(",
        "\x00\x1b[31m\r\n",
        "a" * 100_000,
        "ls " + "-x " * 30_000,
        "\ud800 lone surrogate",
        "▁\ue000",
    ]:
        assert "".join(pretokenize(text)) == text


@given(SHELLISH)
def test_units_join_back_to_the_text(text):
    assert "".join(pretokenize(text)) == text
    assert "".join(u.text for u in units(text)) == text
    assert [u.text for u in units(text)] == pretokenize(text)


@given(SHELLISH)
def test_no_unit_holds_a_space_except_one_in_front(text):
    """What lets the tokenizer cache words: units never straddle a space."""
    for u in pretokenize(text):
        assert " " not in u[1:]


@given(SHELLISH, SHELLISH)
def test_a_line_is_cut_word_by_word(a, b):
    """The units of ``a b`` are those of ``a`` then those of ``b`` with the space glued on."""
    if " " in b:
        return
    assert pretokenize(a + " " + b) == pretokenize(a) + word_units(b, True)


def test_every_atomic_unit_is_recognised_whole():
    for op in ATOMIC_UNITS:
        assert op in pretokenize(op) or (" " + op) in pretokenize("x " + op)


def test_unit_counts_see_commands_as_the_encoder_does():
    counts = unit_counts(["git status", "git push", "\tgit\x00 status"])
    assert counts[" git"] == 2  # the first word also carries the marker space
    assert counts[" status"] == 2
    assert counts[" push"] == 1
    assert all(u.isprintable() for u in counts)  # control characters left to byte fallback
    ordered = list(sorted_counts(counts))
    assert ordered == sorted(ordered, key=lambda kv: (-kv[1], kv[0]))
    assert PRETOKENIZER_VERSION
