#!/bin/sh
# Entry point of the training container: train.py on one device, train_multi.py (torchrun,
# one process per GPU) when more than one GPU is visible. DELTA_TRAIN_SCRIPT overrides the
# choice. Arguments are train.py's flags.

# Weights written to the bind-mounted output directory stay private to their user.
umask 077

script="${DELTA_TRAIN_SCRIPT:-}"
if [ -z "$script" ]; then
    gpus=0
    if command -v nvidia-smi >/dev/null 2>&1; then
        gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
    fi
    if [ "${gpus:-0}" -gt 1 ]; then script=train_multi.py; else script=train.py; fi
fi
exec python "/opt/delta/src/training/$script" "$@"
