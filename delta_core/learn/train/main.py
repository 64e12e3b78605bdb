"""The training entry point of one process: ``python -m delta_core.learn.train.main`` = ``training/train.py``.

Usage::

    python training/train.py --dataset DIR --out DIR [--model-size tiny|small|base]
        [--max-steps N] [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16|float16]
        [--resume] [--batch-size N] [--grad-accum N] [--log-format text|json] [...]

``--help`` lists every flag (one per field of :class:`delta_core.learn.train.config.TrainConfig`).
Under torchrun each process runs this same entry point and joins the DDP group.
Exit status: 0 when trained, 2 when the input or a flag is wrong (one line on stderr),
1 on an unexpected failure.
"""

from __future__ import annotations

import sys

from delta_core.learn.train.config import build_parser, from_namespace
from delta_core.learn.train.data import DatasetError

PROG = "train.py"


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    parser = build_parser(prog, description="Train a Delta model on a token dataset.")
    cfg = from_namespace(parser.parse_args(argv))
    # torch is imported only now, so --help and flag errors stay fast
    from delta_core.learn.train.loop import train

    try:
        train(cfg)
    except (DatasetError, ValueError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
