"""Train a Delta model with torchrun (a thin wrapper over ``delta_core.learn.train.launch``).

Usage::

    python training/train_multi.py [every train.py flag]
        [--nproc-per-node N] [--nnodes N --rdzv-endpoint HOST:PORT [--rdzv-id ID]]

Starts ``--nproc-per-node`` processes of ``train.py`` under torchrun (default: one per GPU torch
sees; one on a CPU-only host, where ``--nproc-per-node N`` runs N gloo processes). DDP uses
NCCL on GPUs and gloo on CPUs; gradient accumulation (``--grad-accum``, global) is divided
across the processes, so the global batch stays the same whatever their number. For several
machines run the same command on each with ``--nnodes`` and one ``--rdzv-endpoint``.
The output directory is the one of ``train.py``; only rank 0 writes it.
"""

import sys

from delta_core.learn.train.launch import main_multi

if __name__ == "__main__":
    sys.exit(main_multi())
