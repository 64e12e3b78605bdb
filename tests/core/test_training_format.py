"""The session token format, and the prompt built for "the next command" from it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delta_core.tokenizer.format import (
    Turn,
    command_stop_ids,
    display_cwd,
    format_context,
    render,
    session_ids,
)
from delta_core.tokenizer.versions import load_tokenizer
from tests.tokenizer_helpers import train_small

COMMANDS = st.sampled_from(
    ["git status", "ls -la", 'git commit -m "x y"', "cd ..", "make", " lead", "", "é▁\ud800 x"]
)
CWDS = st.sampled_from(["", "/home/ada/src", "/home/ada", "/tmp", "/root/x", "/Users/bo/a b"])
EXITS = st.sampled_from([None, 0, 1, 2, 127, -9])
SESSIONS = st.lists(st.builds(Turn, COMMANDS, CWDS, EXITS), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    root = tmp_path_factory.mktemp("delta")
    train_small(root)
    return load_tokenizer(root=root)


def test_a_session_reads_as_documented(tok):
    turns = [
        Turn("git status", "/home/ada/src", 0),
        Turn("git add -A", "/home/ada/src", 0),
        Turn("make html", "/home/ada/src/docs", 2),
        Turn("ls", "", None),
    ]
    assert render(tok, session_ids(tok, turns)) == (
        "<s><cwd>~/src<cmd>git status<exit>0<cmd>git add -A<exit>0"
        "<cwd>~/src/docs<cmd>make html<exit>2<cmd>ls<exit></s>"
    )


def test_home_directories_are_written_as_tilde():
    assert display_cwd("/home/ada/src") == "~/src"
    assert display_cwd("/Users/bo") == "~"
    assert display_cwd("/root/.config") == "~/.config"
    assert display_cwd("/home2/ada") == "/home2/ada"
    assert display_cwd("/srv/home/ada") == "/srv/home/ada"


@settings(max_examples=60, deadline=None)
@given(SESSIONS)
def test_the_prompt_is_exactly_what_training_saw(tok, turns):
    """Prompt + command + <exit> is a prefix of the stored session, for every position."""
    stream = session_ids(tok, turns)
    for k, turn in enumerate(turns):
        prompt = format_context(tok, turns[:k], turn.cwd)
        assert prompt[-1] == tok.special("cmd")
        expected = [*prompt, *tok.encode(turn.command), tok.special("exit")]
        assert stream[: len(expected)] == expected


def test_a_long_history_is_cut_at_command_boundaries(tok):
    history = [Turn(f"echo {i}", "/home/ada/src", 0) for i in range(50)]
    prompt = format_context(tok, history, "/home/ada/src", max_tokens=40)
    assert len(prompt) <= 40
    assert prompt[-1] == tok.special("cmd")
    text = render(tok, prompt)
    assert not text.startswith("<s>")
    assert text.startswith("<cwd>~/src<cmd>echo ")  # a whole command, its directory stated
    assert "echo 49<exit>0<cmd>" in text


def test_the_last_k_commands_can_be_kept(tok):
    history = [Turn(f"echo {i}", "/srv", 0) for i in range(10)]
    text = render(tok, format_context(tok, history, "/srv", max_commands=2))
    assert text == "<cwd>/srv<cmd>echo 8<exit>0<cmd>echo 9<exit>0<cmd>"
    assert render(tok, format_context(tok, history, "/srv", max_commands=0)) == "<cwd>/srv<cmd>"
    assert format_context(tok, history, "/srv", max_commands=10) == format_context(
        tok, history, "/srv"
    )


def test_a_new_directory_is_announced_in_the_prompt(tok):
    history = [Turn("ls", "/tmp", 0)]
    assert render(tok, format_context(tok, history, "/tmp")).endswith("<exit>0<cmd>")
    assert render(tok, format_context(tok, history, "/srv")).endswith("<exit>0<cwd>/srv<cmd>")


def test_typed_text_is_settled_up_to_the_last_word(tok):
    prompt = format_context(tok, [], "/tmp", prefix="git pu")
    cmd = prompt.index(tok.special("cmd"))
    assert prompt[cmd + 1 :] == tok.encode("git")
    assert tok.encode_prefix("git pu") == (tok.encode("git"), " pu")
    assert tok.encode_prefix("") == ([], " ")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab -|\"'▁é\t")), max_size=20), st.data())
def test_settled_ids_are_a_prefix_of_every_completion(tok, command, data):
    cut = data.draw(st.integers(0, len(command)))
    typed = command[:cut]
    ids, tail = tok.encode_prefix(typed)
    full = tok.encode(command)
    assert full[: len(ids)] == ids
    head = typed.rpartition(" ")[0] if " " in typed else None
    rest = command if head is None else command[len(head) + 1 :]
    assert tok.decode(full[len(ids) :]) == rest
    assert tail == " " + typed[len(head) + 1 :] if head is not None else tail == " " + typed


def test_stop_ids_end_a_command(tok):
    assert tok.special("exit") in command_stop_ids(tok)
    assert not any(i in command_stop_ids(tok) for i in tok.encode("git status && exit 0"))
