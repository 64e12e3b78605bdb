"""Train a Delta model in one process (a thin wrapper over ``delta_core.learn.train.main``).

Usage::

    python training/train.py --dataset DIR --out DIR --model-size tiny|small|base
        [--max-steps N] [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16|float16]
        [--resume] [--batch-size N] [--grad-accum N] [--block-size N]
        [--eval-interval N] [--patience N] [--checkpoint-interval N]
        [--log-format text|json] [--progress auto|on|off] [--compile auto|on|off] [--seed N]

DIR of ``--dataset`` holds ``train.bin``, ``val.bin`` and ``meta.json`` (delta-tokens-v1).
``--out`` receives ``checkpoint.pt`` (weights, optimizer, RNG, data position: exact
``--resume``), ``model.pt`` (the best weights by validation loss), ``config.json`` and
``metrics.json``. ``--help`` lists every flag. These flags are a stable contract: the Docker
trainer and the local trainer both call this entry point.
Exit status: 0 trained, 2 bad input or flag (one line on stderr), 1 unexpected failure.
"""

import sys

from delta_core.learn.train.main import main

if __name__ == "__main__":
    sys.exit(main(prog="train.py"))
