"""The keyword gate of the secrets filter: which rules a command's keywords let run.

The gate finds every keyword occurrence with one Aho-Corasick walk; before, a regex trie of
the keywords was searched again one character after each find. Both must pick the same
rules for any text, so the filter decides the same on every command (and never skips one a
rule would change).
"""

from __future__ import annotations

import re

from delta_plugins.secrets import RULES, SecretScanner, _KeywordGate
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.plugins.secret_examples import POSITIVES

GATE = _KeywordGate(RULES)
KEYWORDS = sorted(GATE.rules_of)
# one alternation of every keyword, longest first: at a position it matches the longest one
TRIE = re.compile("|".join(map(re.escape, sorted(KEYWORDS, key=lambda w: (-len(w), w)))))
# the rules of a keyword and of every keyword that is a prefix of it
UNLOCKS = {
    w: frozenset().union(*(GATE.rules_of.get(w[:n], ()) for n in range(1, len(w) + 1)))
    for w in KEYWORDS
}


def searched_again(gate: _KeywordGate, lowered: str) -> set[int]:
    """The gate as it was: a search restarted one character after each find."""
    found = set(gate.always)
    m = TRIE.search(lowered)
    while m is not None:
        found |= UNLOCKS[m.group()]
        m = TRIE.search(lowered, m.start() + 1)
    return found


def by_substring(gate: _KeywordGate, lowered: str) -> set[int]:
    """What the gate means: the rules of every keyword that occurs in the text."""
    found = set(gate.always)
    for word in KEYWORDS:
        if word in lowered:
            found |= gate.rules_of[word]
    return found


# keywords glued together and to bits of text: overlaps, prefixes of one another, repeats
_pieces = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(KEYWORDS).map(lambda w: w[1:]),
    st.sampled_from(KEYWORDS).map(lambda w: w[:-1]),
    st.text(max_size=4),
    st.sampled_from([" ", "=", "-", "_", "|", "\n", "'", '"']),
)
_texts = st.lists(_pieces, max_size=12).map("".join)


@settings(max_examples=800, deadline=None)
@given(_texts)
@example("secretsecret")
@example("github_pat_ghp_")
@example("-----begin")
def test_the_automaton_finds_the_rules_a_search_from_every_find_found(text):
    lowered = text.lower()
    assert GATE.wanted(lowered) == searched_again(GATE, lowered) == by_substring(GATE, lowered)


def test_the_gate_lets_every_rule_see_its_own_examples():
    for _rule, command, _secret in POSITIVES:
        lowered = command.lower()
        assert GATE.wanted(lowered) == searched_again(GATE, lowered)


class _SearchedAgain(_KeywordGate):
    def wanted(self, lowered: str) -> set[int]:
        return searched_again(self, lowered)


FAST = SecretScanner()
SLOW = SecretScanner()
SLOW._gate = _SearchedAgain(SLOW.rules)


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_the_gate_never_skips_a_command_a_rule_would_change(text):
    assert FAST.scan(text) == SLOW.scan(text)


@given(st.sampled_from(POSITIVES))
def test_each_example_secret_is_found_through_the_gate(case):
    _rule, command, _secret = case
    assert FAST.scan(command) == SLOW.scan(command)
