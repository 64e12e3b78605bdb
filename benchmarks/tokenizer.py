"""Tokenizer benchmark: throughput of the full pipeline against bare sentencepiece, and tokens
per command against plain sentencepiece models trained without the pre-tokenizer.

Data: NL2Bash commands and tldr examples from ../shared/data, each split 90/10 at random
(fixed seed); every tokenizer is trained on the same 90 % and measured on the same 10 %.

Throughput is measured on all commands of both corpora (repeated to ``--scale`` times the
corpus so a run lasts long enough to time), for:

- ``pipeline cold``: a freshly loaded tokenizer (empty word memo) encoding both corpora once
  (each command once: only the words the corpora repeat are reused);
- ``pipeline warm``: a tokenizer that has seen these words encoding the ``--scale`` batch
  (the steady state of a shell history, which repeats its words);
- ``bare sentencepiece``: ``SentencePieceProcessor.encode(list)`` (multithreaded C++) of the
  same model on the same raw strings: no escaping, no pre-tokenizer, no memo;
- ``naive pre-tokenizer``: the regular expression run on every command, then one batched
  sentencepiece call on the units (what the memo avoids).

Each figure is the best of ``--repeat`` runs, the paths taking turns in every round (the
machine is shared). Wall-clock rates are given with rates per CPU-second of the process (all
its threads): on a loaded machine the latter is the steadier figure. Ratios are against bare
sentencepiece measured in the same run.

    python benchmarks/tokenizer.py [--vocab-size 4096] [--repeat 5] [--scale 5] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sentencepiece as spm  # noqa: E402
from delta_plugins.tokenizer_sentencepiece import SentencePieceTokenizer  # noqa: E402

from delta_core.tokenizer.pretokenizer import pretokenize  # noqa: E402
from delta_core.tokenizer.versions import load_tokenizer, train_tokenizer  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def corpora() -> dict[str, list[str]]:
    nl = (DATA / "nl2bash" / "all.cm").read_text(encoding="utf-8").splitlines()
    rows = (DATA / "tldr" / "examples_common_linux.tsv").read_text(encoding="utf-8").splitlines()
    return {"nl2bash": nl, "tldr": [r.split("\t")[3] for r in rows[1:]]}


def split(commands: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    shuffled = commands[:]
    random.Random(seed).shuffle(shuffled)
    cut = int(len(shuffled) * 0.9)
    return shuffled[:cut], shuffled[cut:]


def plain_model(train: list[str], vocab_size: int, model_type: str):
    """Sentencepiece on raw lines: its defaults, plus only what losslessness needs."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        byte_fallback=True,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=buf.getvalue())


def crossed_boundaries(pieces_of, commands: list[str]) -> float:
    """Share of the pre-tokenizer's unit boundaries that fall inside a token."""
    crossed = total = 0
    for command in commands:
        ends, pos = set(), 0
        for piece in pieces_of(command):
            pos += len(piece)
            ends.add(pos)
        pos = 0
        for unit in pretokenize(command)[:-1]:
            pos += len(unit)
            total += 1
            crossed += pos not in ends
    return crossed / max(total, 1)


def best_rate(fn, n: int, repeat: int, setup=None) -> float:
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def mean_len(encoded) -> float:
    return sum(map(len, encoded)) / len(encoded)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=int, default=5, help="corpus copies in the throughput batch")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    data = corpora()
    parts = {name: split(cmds) for name, cmds in data.items()}
    train = [c for tr, _ in parts.values() for c in tr]
    results: dict = {"vocab_size": args.vocab_size, "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train_tokenizer(train, SentencePieceTokenizer(), root=tmp, vocab_size=args.vocab_size)
        results["train_seconds_shell"] = time.perf_counter() - t0
        tok = load_tokenizer(root=tmp)
        t0 = time.perf_counter()
        plain_uni = plain_model(train, args.vocab_size, "unigram")
        results["train_seconds_plain_unigram"] = time.perf_counter() - t0
        plain_bpe = plain_model(train, args.vocab_size, "bpe")

        # --- tokens per command on held-out commands -----------------------------------
        tpc = {}
        for name, (_, test) in parts.items():
            tpc[name] = {
                "commands": len(test),
                "shell_aware_bpe": mean_len(load_tokenizer(root=tmp).encode_batch(test)),
                "plain_unigram": mean_len(plain_uni.encode(test)),
                "plain_bpe": mean_len(plain_bpe.encode(test)),
            }
        results["tokens_per_command"] = tpc

        # --- how often a model without the pre-tokenizer cuts through a shell unit --------
        ascii_test = [c for _, test in parts.values() for c in test if c.isascii()]

        def plain_pieces(c: str) -> list[str]:
            return [p.replace("\u2581", " ") for p in plain_uni.encode(c, out_type=str)]

        def shell_pieces(c: str) -> list[str]:
            return [t for _, t in tok.spans(tok.encode(c))]

        results["unit_boundaries_inside_a_token"] = {
            "plain_unigram": crossed_boundaries(plain_pieces, ascii_test),
            "shell_aware_bpe": crossed_boundaries(shell_pieces, ascii_test),
        }

        # --- throughput: rounds interleave the paths, so load changes hit them alike ------
        once = [c for cmds in data.values() for c in cmds]
        batch = once * args.scale
        sp = tok.backend.sp
        tok.encode_batch(batch)
        times: dict[str, float] = {}
        cpu_rates: dict[str, float] = {}

        def timed(name: str, fn, n: int) -> None:
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            times[name] = max(times.get(name, 0.0), n / wall)
            cpu_rates[name] = max(cpu_rates.get(name, 0.0), n / max(cpu, 1e-9))

        for _ in range(args.repeat):
            fresh = load_tokenizer(root=tmp)
            timed("bare_sentencepiece", lambda: sp.encode(batch), len(batch))
            timed("pipeline_warm", lambda: tok.encode_batch(batch), len(batch))
            timed("bare_sentencepiece_once", lambda: sp.encode(once), len(once))
            timed("pipeline_cold", lambda f=fresh: f.encode_batch(once), len(once))
        small = once[::4]
        timed(
            "naive_pretokenizer",
            lambda: sp.encode([u for c in small for u in pretokenize(c)]),
            len(small),
        )
        rates = times
        bare = max(rates["bare_sentencepiece"], rates["bare_sentencepiece_once"])
        results["throughput_commands_per_s"] = rates
        results["commands_per_cpu_second"] = cpu_rates
        bare_cpu = max(cpu_rates["bare_sentencepiece"], cpu_rates["bare_sentencepiece_once"])
        results["cpu_cost_vs_bare"] = {
            k: bare_cpu / v for k, v in cpu_rates.items() if not k.startswith("bare")
        }
        results["batch_commands"] = {"warm": len(batch), "cold": len(once)}
        results["cost_vs_bare"] = {
            k: bare / v for k, v in rates.items() if not k.startswith("bare")
        }
        assert all(
            tok.decode(ids) == c for ids, c in zip(tok.encode_batch(once), once, strict=True)
        )
        n = len(batch)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    out = Console()
    t = Table(title=f"tokens per held-out command (vocab {args.vocab_size})")
    for col in ("corpus", "commands", "shell-aware BPE", "plain unigram", "plain BPE", "ratio"):
        t.add_column(col, justify="right")
    for name, r in tpc.items():
        t.add_row(
            name,
            str(r["commands"]),
            f"{r['shell_aware_bpe']:.2f}",
            f"{r['plain_unigram']:.2f}",
            f"{r['plain_bpe']:.2f}",
            f"{r['shell_aware_bpe'] / r['plain_unigram']:.2f}× / {r['shell_aware_bpe'] / r['plain_bpe']:.2f}×",
        )
    out.print(t)
    t = Table(
        title=f"encode throughput (best of {args.repeat}; cold: {len(once)} commands once, "
        f"warm and bare: {n} commands)"
    )
    for col in ("path", "commands/s", "time ÷ bare", "commands/CPU-s", "CPU ÷ bare"):
        t.add_column(col, justify="right")
    for k, v in rates.items():
        ratio = results["cost_vs_bare"].get(k)
        cpu_ratio = results["cpu_cost_vs_bare"].get(k)
        t.add_row(
            k.replace("_", " "),
            f"{v:,.0f}",
            "" if ratio is None else f"{ratio:.2f}×",
            f"{cpu_rates[k]:,.0f}",
            "" if cpu_ratio is None else f"{cpu_ratio:.2f}×",
        )
    out.print(t)
    crossed = results["unit_boundaries_inside_a_token"]
    out.print(
        f"shell-unit boundaries cut through by a token: plain unigram "
        f"{crossed['plain_unigram']:.1%}, shell-aware {crossed['shell_aware_bpe']:.1%}"
    )
    out.print(
        f"training: shell-aware {results['train_seconds_shell']:.1f}s, plain unigram "
        f"{results['train_seconds_plain_unigram']:.1f}s; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
