"""Programs' purposes from this machine's manual pages (``whatis``), as the index reads them."""

from __future__ import annotations

import shutil

import pytest

from delta_core.search.meaning import Purposes, embedding_text, whatis

pytestmark = pytest.mark.skipif(shutil.which("whatis") is None, reason="no man-db here")


def test_an_option_like_name_does_not_lose_the_whole_batch():
    # `whatis -x ls` is refused outright ("Usage: whatis ..."): every purpose was lost
    got = whatis(["-x", "ls", "tar"])
    assert {"ls", "tar"} <= set(got)


def test_descriptions_are_whole_not_cut_to_the_terminal():
    got = whatis(["git-init", "tar", "ls", "find"])
    assert got and not any(v.endswith("...") for v in got.values())


def test_the_embedded_text_carries_the_purpose():
    p = Purposes(None)
    p.prepare(["ls -la", "-weird", "tar -xzf a.tgz"])
    assert embedding_text("ls -la", p).startswith("ls -la ; ")
