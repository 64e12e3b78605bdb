"""Property tests of the session's words completing what is typed (``session_copies``)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from delta_core.plugin.protocols import SuggestQuery
from delta_core.suggest.rank import session_copies

words = st.text(alphabet="abcz./-_'\"0", min_size=1, max_size=8)
commands = st.lists(words, min_size=1, max_size=5).map(" ".join)


@given(st.lists(commands, max_size=4), commands, st.text(alphabet="abcz./-_ ", max_size=12))
def test_copies_extend_the_typed_text_and_form_a_distribution(previous, head, typed):
    prefix = head + " " + typed
    got = session_copies(SuggestQuery(prefix, "", tuple(previous)))
    for cmd in got:
        assert cmd.startswith(prefix) and cmd != prefix
        copied = cmd[prefix.rfind(" ") + 1 :]
        word = copied.split(" ")[0]
        # the word is an argument of a previous command (not its name, not a flag), alone
        # or with the rest of that command
        assert any(
            word in p.split()[1:] and (copied == word or " ".join(p.split()[1:]).endswith(copied))
            for p in previous
        )
        assert not word.startswith("-") and word.count("'") % 2 == 0
    if got:
        assert math.isclose(sum(got.values()), 1.0)


@given(st.lists(commands, max_size=4), st.text(alphabet="abc./-", max_size=6))
def test_nothing_is_copied_before_the_command_name_is_typed(previous, typed):
    assert session_copies(SuggestQuery(typed.replace(" ", ""), "", tuple(previous))) == {}


def test_a_pasted_blob_lends_no_words():
    # its words and their tails would be walked on every keystroke (quadratic in its length)
    from delta_core.suggest.rank import COPY_CHARS

    blob = "echo " + " ".join(f"w{i:05d}" for i in range(COPY_CHARS))
    near = "vim notes.txt"
    got = session_copies(SuggestQuery("git add ", "", (near, blob)))
    assert got == {"git add notes.txt": 1.0}
