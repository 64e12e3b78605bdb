"""The ``delta`` and ``:memory`` aliases: Delta's command line, run inside the shell process.

Running in-process saves starting a Python interpreter per call and shares the memory the
recorder already holds open (LMDB must not open one environment twice in a process). The
command line is imported on first use, never at load. Whatever happens inside (``SystemExit``
from click, an exception, Ctrl-C), the alias returns an exit status and the shell goes on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, redirect_stderr, redirect_stdout
from typing import Any


@contextmanager
def _process_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Let ``os.environ`` be the shell's environment while the command line runs.

    xonsh keeps its variables to itself ($DELTA_HOME set at the prompt is not in
    ``os.environ``); the ``delta`` program run as a subprocess would see them, so the alias
    must too.
    """
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k not in env]:
            del os.environ[key]
        for key, value in env.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        yield
    finally:
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        os.environ.update(saved)


def run_cli(
    argv: list[str],
    env: Mapping[str, str],
    shared_ctx: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    stdin: Any = None,
) -> int:
    """Run ``delta ARGV`` in this process and return its exit status; never raises.

    The streams are the ones xonsh hands a callable alias, so ``cat f | :tokenizer encode -``
    reads the pipe.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    saved_stdin = sys.stdin
    try:
        if stdin is not None:
            sys.stdin = stdin
        with redirect_stdout(out), redirect_stderr(err), _process_environ(env):
            from delta_core.cli import main
            from delta_core.cli.common import shared_context
            from delta_core.paths import delta_root

            # Share the recorder's open memory only when the command addresses the same root.
            if shared_ctx is not None and delta_root(env) != shared_ctx.config.root:
                shared_ctx = None
            with shared_context(shared_ctx):
                main(list(argv))
        return 0
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=err)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from delta_core import log

        print(f"delta: {log.plain(exc)}", file=err)
        return 1
    finally:
        sys.stdin = saved_stdin


def make_aliases(
    get_env: Callable[[], Mapping[str, str]],
    using_memory: Callable[[], AbstractContextManager[Any]],
) -> dict[str, Callable[..., int]]:
    """The aliases to install: ``delta …``, ``:memory …`` and ``:tokenizer …``.

    ``using_memory()`` holds the recorder's memory for the duration of a command and gives
    its context (or None when the recorder is not running).
    """

    def run(argv: list[str], stdout: Any, stderr: Any, stdin: Any = None) -> int:
        try:
            with using_memory() as ctx:
                return run_cli(argv, get_env(), ctx, stdout, stderr, stdin)
        except Exception as exc:
            from delta_core import log

            print(f"delta: {log.plain(exc)}", file=stderr or sys.stderr)
            return 1

    def delta(args, stdin=None, stdout=None, stderr=None):
        return run(list(args), stdout, stderr)

    def memory(args, stdin=None, stdout=None, stderr=None):
        return run(["memory", *args], stdout, stderr)

    def tokenizer(args, stdin=None, stdout=None, stderr=None):
        return run(["tokenizer", *args], stdout, stderr, stdin)

    # In the main thread: Ctrl-C reaches the command, and the memory is not used from two
    # threads at once.
    for fn in (delta, memory, tokenizer):
        fn.__xonsh_threadable__ = False
    return {"delta": delta, ":memory": memory, ":tokenizer": tokenizer}
