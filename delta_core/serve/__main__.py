"""``python -m delta_core.serve [--listen HOST:PORT] [--backend B] [--no-batching]``: the daemon."""

from __future__ import annotations

import argparse
import sys

from delta_core import log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="delta serve")
    parser.add_argument("--listen", default=None)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-batching", action="store_true")
    parser.add_argument("--no-speculation", action="store_true")
    args = parser.parse_args(argv)
    from delta_core.context import DeltaContext
    from delta_core.serve.server import ServeError, Server

    ctx = DeltaContext()
    try:
        server = Server(
            ctx,
            backend=args.backend or ctx.config["serve.backend"],
            listen=ctx.config["serve.listen"] if args.listen is None else args.listen,
            batching=not args.no_batching,
            speculate=not args.no_speculation,
            threads=ctx.config["serve.threads"] if args.threads is None else args.threads,
        )
        server.run()
    except Exception as exc:
        # once on the terminal (a detached server has none) and once in the log
        why = str(exc) if isinstance(exc, ServeError) else f"cannot serve the model ({exc})"
        print(f"delta serve: {why}", file=sys.stderr)
        log.to_log(f"delta serve: {why}", ctx.layout.log_file)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
