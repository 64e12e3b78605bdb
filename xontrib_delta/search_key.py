"""The search window's key binding in xonsh (Ctrl-S by default, ``$DELTA_SEARCH_KEY``).

The window itself is the engine's (:mod:`delta_core.search.ui`, which ``delta search -i`` also
runs); this module only binds the key in xonsh's prompt and puts the chosen command into the
buffer. Nothing here may break the shell: every failure becomes one ``delta:`` line.
"""

from __future__ import annotations

from typing import Any

from xontrib_delta.keys import bind_keys

DEFAULT_KEY = "c-s"


def _shell_env() -> dict[str, str] | None:
    """The shell's own environment ($DELTA_HOME set inside xonsh is not in os.environ)."""
    try:
        from xonsh.built_ins import XSH

        return XSH.env.detype() if XSH.env is not None else None
    except Exception:
        return None


def _open_over_prompt(event) -> None:
    """Key handler: run the search window above the prompt, put the choice in the buffer
    (and run it when the window was closed with Enter)."""
    import os

    from prompt_toolkit.application.run_in_terminal import in_terminal

    buf = event.current_buffer

    async def go() -> None:
        try:
            from delta_core.context import DeltaContext
            from delta_core.search.service import get_embedder

            env = _shell_env()
            ctx = DeltaContext(env=env)
            from delta_core.search.ui import SESSION_ENV, SearchSession, build_app

            session = SearchSession(
                ctx,
                get_embedder(ctx),
                here=os.getcwd(),
                session=(env or {}).get(SESSION_ENV),
                mode=str(ctx.config["search.filter_mode"]),
            )
            app = build_app(session, buf.text)
            async with in_terminal():
                result = await app.run_async()
        except Exception as exc:  # the shell must never break
            from delta_core import log

            log.problem(f"delta search: {exc}")
            return
        if result:  # Enter: on the prompt and run; Tab: on the prompt, to edit first
            action, command = result
            buf.text = command
            buf.cursor_position = len(command)
            if action == "run":
                buf.validate_and_handle()

    event.app.create_background_task(go())


def install(xsh: Any, key: str = DEFAULT_KEY):
    """Bind ``key`` in xonsh's prompt to the search window; returns the undo function."""
    return bind_keys(xsh, [tuple(key.split())], _open_over_prompt)
