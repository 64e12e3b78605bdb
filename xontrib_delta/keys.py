"""Binding Delta's keys in xonsh's prompt, now or when the prompt is created, with an undo.

xonsh builds its prompt_toolkit key bindings only when the interactive prompt starts, which
may be after ``xontrib load delta``. :func:`bind_keys` binds at once when the bindings exist and
otherwise waits for ``on_ptk_create``; the function it returns removes every binding and
handler it added (``xontrib unload delta``). Imports only the standard library.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any


def bind_keys(
    xsh: Any, sequences: Iterable[tuple[str, ...]], handler: Callable[[Any], None]
) -> Callable[[], None]:
    """Bind each key sequence (prompt_toolkit names, e.g. ``("escape", "f")``) to ``handler``;
    return the undo function."""
    sequences = [s for s in sequences if s]
    undo: list[Callable[[], None]] = []

    def bind(bindings: Any) -> None:
        for keys in sequences:
            bound = bindings.add(*keys)(handler)
            undo.append(lambda b=bound: bindings.remove(b))

    shell = getattr(getattr(xsh, "shell", None), "shell", None)
    bindings = getattr(shell, "key_bindings", None)
    if bindings is not None:
        bind(bindings)
    else:  # the prompt does not exist yet: bind when it is created

        def _delta_keys_ptk_create(bindings: Any = None, **_: Any) -> None:
            if bindings is not None:
                bind(bindings)

        event = xsh.builtins.events.on_ptk_create
        event(_delta_keys_ptk_create)
        undo.append(lambda: event.discard(_delta_keys_ptk_create))

    def uninstall() -> None:
        for step in reversed(undo):
            with contextlib.suppress(Exception):  # already gone
                step()
        undo.clear()

    return uninstall
