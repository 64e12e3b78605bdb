"""Model suggestion speed: PyTorch vs ONNX Runtime, KV cache, speculation, ``delta serve``.

Data: real command *sequences* (Schonlau SEA, /work/shared/data/schonlau_sea: per-user
command names in the order they were run), each distinct name of a user mapped
deterministically to a real one-liner from nl2bash (/work/shared/data/nl2bash) that starts
with it when one exists (else any), so sessions keep SEA's real repetition and the commands
have realistic arguments. A ``small`` model (6x384) is trained briefly on the first 90 % of
each user; keystrokes replay held-out commands. Weights do not change latency, but they do
change how many draft tokens are accepted, hence a trained model.

Figures, all in one run, on whatever CPU this is (load noted in the output):

* in-process latency per suggestion (one keystroke = one completion request, prompt
  prefix cached as in the shell; no completion memo): PyTorch eager without KV cache, PyTorch
  with KV cache, ONNX Runtime (fp32 and int8) with KV cache, each with and without
  speculation (prompt-lookup drafts from the session and from history commands with the typed
  prefix); outputs of speculative and plain greedy are compared token for token;
* end to end: a client typing key by key through ``delta serve`` (the shell's RemoteModel
  path: socket, JSON, scheduler, ONNX Runtime, back);
* server throughput (suggestions/s) at 1, 4, 16, 64 concurrent shells, continuous batching
  vs one request at a time (``--no-batching``): the same server, engine and settings
  otherwise (``delta serve``'s defaults: int8 ONNX, speculation on; ``--backend onnx`` for
  fp32). The server's step profile covers the timed part only.

Usage: python benchmarks/serve.py [--json] [--steps 150] [--commands 24] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

DATA = Path("/work/shared/data")
USERS = [f"User{i}" for i in range(1, 9)]
PER_USER = 1500
CONTEXT = 32
BACKEND = ["onnx-int8"]  # the server's --backend (set from the command line)
BACKEND_COST = {"onnx-int8": "int8", "onnx": "fp32"}  # its step-cost grid


def _sessions() -> dict[str, list[str]]:
    lines = (DATA / "nl2bash" / "all.cm").read_text(errors="replace").splitlines()
    lines = [line.strip() for line in lines if 8 <= len(line.strip()) <= 60 and "\n" not in line]
    by_first: dict[str, list[str]] = {}
    for line in lines:
        by_first.setdefault(line.split()[0], []).append(line)
    out = {}
    for user in USERS:
        names = (DATA / "schonlau_sea" / user).read_text().split()[:PER_USER]
        mapped = {}
        for name in names:
            if name not in mapped:
                pool = by_first.get(name) or lines
                mapped[name] = pool[zlib.crc32(f"{user}/{name}".encode()) % len(pool)]
        out[user] = [mapped[n] for n in names]
    return out


def _records(sessions):
    from delta_core.records.record import Record

    train, test = [], {}
    t0 = 1_700_000_000_000_000_000
    for u, cmds in sessions.items():
        cut = int(len(cmds) * 0.9)
        recs = [
            Record(c, t0 + i * 10**9, f"/home/ada/{u}", 0, session=u) for i, c in enumerate(cmds)
        ]
        train += recs[:cut]
        test[u] = recs
    return train, test


def build(workdir: Path, steps: int) -> tuple[Path, dict]:
    """A Delta root with a promoted small model (trained once, reused from ``workdir``)."""
    from delta_core.learn.deploy import active_version, promote
    from delta_core.paths import Layout
    from delta_core.plugin.manager import Components, make_plugin_manager

    root = workdir / "delta"
    sessions = _sessions()
    _, test = _records(sessions)
    if active_version(Layout(root)):
        return root, test
    from delta_core.learn.eval.model import train_eval_model
    from delta_core.learn.registry import register_model

    train, _ = _records(sessions)
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    t = time.perf_counter()
    out = train_eval_model(
        train,
        workdir / "train",
        plugins,
        model_size="small",
        max_steps=steps,
        block_size=256,
        vocab_size=2048,
        quiet=False,
    )
    print(f"trained small model: {steps} steps in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    info = register_model(Layout(root), out, trainer="bench", tokenizer_dir=out / "tokenizer")
    promote(Layout(root), info.version)
    return root, test


def keystrokes(test: dict, n_commands: int, every: bool = False):
    """(session, history turns, cwd, prefix) for held-out commands, typed key by key."""
    from delta_core.serve.remote import stable_window
    from delta_core.tokenizer.format import as_turn

    out = []
    per_user = max(1, n_commands // len(test))
    for u, recs in test.items():
        start = int(len(recs) * 0.9)
        for i in range(start, start + per_user):
            # the window the shell sends (delta_core.serve.remote.stable_window)
            hist = [as_turn(r) for r in stable_window(recs[:i], CONTEXT)]
            cmd = recs[i].command
            cuts = (
                range(len(cmd))
                if every
                else sorted({0, 1, 3, 6, *(j + 1 for j, ch in enumerate(cmd) if ch == " ")})
            )
            for j in cuts:
                if j < len(cmd):
                    out.append((u, hist, recs[i].cwd, cmd[:j]))
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def _drafts(hist_cmds: list[str], prefix: str) -> list[str]:
    """History commands with the typed prefix (what the shell passes from its index)."""
    if not prefix:
        return []
    seen = []
    for c in reversed(hist_cmds):
        if c.startswith(prefix) and c not in seen:
            seen.append(c)
    return seen[:4]


def in_process(root: Path, keys, threads: int, nocache_n: int) -> dict:
    import numpy as np
    import torch

    from delta_core.inference.backends import OnnxBackend, TorchBackend
    from delta_core.inference.export import ensure_onnx
    from delta_core.learn.deploy import active_version
    from delta_core.lm.checkpoint import load_model
    from delta_core.plugin.manager import Components, make_plugin_manager
    from delta_core.suggest.completer import MAX_NEW, ModelCompleter, load_tokenizer_dir
    from delta_core.tokenizer.lossless import escape

    torch.set_num_threads(threads)
    mdir = root / "models" / active_version(__import__("delta_core.paths").paths.Layout(root))
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    tok = load_tokenizer_dir(mdir / "tokenizer", plugins)
    model = load_model(mdir)
    onnx = OnnxBackend(ensure_onnx(mdir), threads=threads)
    int8 = OnnxBackend(ensure_onnx(mdir, quantized=True), threads=threads)
    variants = {
        "torch+kv": ModelCompleter(TorchBackend(model), tok, speculate=False),
        "torch+kv+spec": ModelCompleter(TorchBackend(model), tok),
        "onnx+kv": ModelCompleter(onnx, tok, speculate=False),
        "onnx+kv+spec": ModelCompleter(onnx, tok),
        "int8+kv": ModelCompleter(int8, tok, speculate=False),
        "int8+kv+spec": ModelCompleter(int8, tok),
    }
    res, outputs = {}, {}
    for name, comp in variants.items():
        comp.complete(keys[0][1], keys[0][2], "")  # warm up
        lat, outs = [], []
        for sess, hist, cwd, prefix in keys:
            drafts = _drafts([t.command for t in hist], prefix) if "spec" in name else ()
            t = time.perf_counter()
            job = comp.job(hist, cwd, prefix, key=sess, drafts=drafts)
            comp.engine.run(job)
            got = comp.finish(job, prefix, sess)
            lat.append((time.perf_counter() - t) * 1000)
            outs.append(got[0][0] if got else None)
        outputs[name] = outs
        st = comp.engine.stats
        res[name] = {
            "p50_ms": round(pct(lat, 0.5), 2),
            "p95_ms": round(pct(lat, 0.95), 2),
            "mean_ms": round(statistics.fmean(lat), 2),
            "n": len(lat),
            "forwards_per_suggestion": round(st.steps / len(lat), 2),
            "replayed_per_suggestion": round(st.replayed / len(lat), 2),
            **({"draft_acceptance": round(st.acceptance, 3)} if "spec" in name else {}),
        }
    # no KV cache: every token recomputes the whole prompt (PyTorch eager), fewer requests
    comp = variants["torch+kv"]
    lat = []
    for sess, hist, cwd, prefix in keys[:nocache_n]:
        t = time.perf_counter()
        _, tail = tok.encode_prefix(prefix)
        pending = escape(tail).encode("utf-8", "surrogatepass")
        ids = comp.prompt(hist, cwd, prefix, sess)
        for _ in range(MAX_NEW):
            with torch.inference_mode():
                row = model(torch.tensor([ids])).logits[0, -1].numpy()
            lp = comp.rule.logprobs(row, pending)
            tok_id = int(np.argmax(lp))
            if tok_id in comp.rule.stop or lp[tok_id] == -np.inf:
                break
            ids.append(tok_id)
            pending = comp.rule.advance(pending, tok_id)
        lat.append((time.perf_counter() - t) * 1000)
    res["torch-nocache"] = {
        "p50_ms": round(pct(lat, 0.5), 2),
        "p95_ms": round(pct(lat, 0.95), 2),
        "mean_ms": round(statistics.fmean(lat), 2),
        "n": len(lat),
    }
    pairs = (
        ("onnx+kv", "onnx+kv+spec"),
        ("torch+kv", "torch+kv+spec"),
        ("int8+kv", "int8+kv+spec"),
    )
    for plain, spec in pairs:
        same = sum(a == b for a, b in zip(outputs[plain], outputs[spec], strict=True))
        res[spec]["identical_to_plain"] = f"{same}/{len(outputs[plain])}"
        res[spec]["speedup_mean"] = round(res[plain]["mean_ms"] / res[spec]["mean_ms"], 2)
        res[spec]["speedup_p50"] = round(res[plain]["p50_ms"] / res[spec]["p50_ms"], 2)
    return res


class ServerProc:
    def __init__(self, root: Path, *args: str) -> None:
        from delta_core.paths import Layout
        from delta_core.serve.protocol import socket_path

        env = {**os.environ, "DELTA_HOME": str(root), "DELTA_SERVE_IDLE_EXIT_S": "600"}
        env.pop("XDG_RUNTIME_DIR", None)
        self.path = socket_path(Layout(root), env={})
        self.proc = subprocess.Popen([sys.executable, "-m", "delta_core.serve", *args], env=env)
        deadline = time.monotonic() + 120
        while not self.path.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("delta serve did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def _msg(sess, hist, cwd, prefix, timeout_ms=120000):
    drafts = _drafts([t.command for t in hist], prefix)
    return {
        "op": "suggest",
        "session": sess,
        "prefix": prefix,
        "cwd": cwd,
        "history": [[t.command, t.cwd, t.exit] for t in hist],
        "drafts": drafts,
        "timeout_ms": timeout_ms,
    }


def e2e(root: Path, keys, threads: int) -> dict:
    from delta_core.serve.protocol import Client

    srv = ServerProc(root, "--threads", str(threads), "--backend", BACKEND[0])
    try:
        c = Client(srv.path, timeout=60)
        c.call(_msg(*keys[0]), 120)  # the session's first prompt (prefill) is not a keystroke
        lat, errors = [], 0
        for k in keys:
            t = time.perf_counter()
            got = c.call(_msg(*k), 120)
            lat.append((time.perf_counter() - t) * 1000)
            errors += not got.get("ok")
        status = c.call({"op": "status"}, 10)
    finally:
        srv.stop()
    return {
        "e2e_p50_ms": round(pct(lat, 0.5), 2),
        "e2e_p95_ms": round(pct(lat, 0.95), 2),
        "e2e_n": len(lat),
        "e2e_errors": errors,
        "server_p95_ms": status["latency_ms"]["p95"],
        "draft_acceptance": status["draft_acceptance"],
    }


def throughput(
    root: Path,
    streams: list,
    clients: int,
    per_client: int,
    batching: bool,
    threads: int,
    spec: bool = True,
):
    from delta_core.serve.protocol import Client

    args = ["--threads", str(threads), "--backend", BACKEND[0]]
    args += [] if batching else ["--no-batching"]
    args += [] if spec else ["--no-speculation"]
    srv = ServerProc(root, *args)
    done = [0] * clients
    errors = [0] * clients
    try:
        conns = [Client(srv.path, timeout=600) for _ in range(clients)]
        # every shell's first prompt is prefilled before the clock starts (as after a command)
        warm = [
            threading.Thread(
                target=lambda i=i: conns[i].call(
                    _msg(f"c{i}", *streams[i % len(streams)][0][1:]), 600
                )
            )
            for i in range(clients)
        ]
        for t in warm:
            t.start()
        for t in warm:
            t.join()

        def run(i: int) -> None:
            stream = streams[i % len(streams)]
            for j in range(per_client):
                _, hist, cwd, prefix = stream[(j + 1) % len(stream)]
                got = conns[i].call(_msg(f"c{i}", hist, cwd, prefix), 600)
                done[i] += bool(got.get("ok"))
                errors[i] += not got.get("ok")

        workers = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        before = conns[0].call({"op": "status"}, 60)  # the warm-up's steps are not counted
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t
        status = conns[0].call({"op": "status"}, 60)
    finally:
        srv.stop()
    timed = {
        k: round(status[k] - before[k], 3)
        for k in status
        if (k.endswith(("_s", "_steps")) and k != "uptime_s") or k in ("steps", "rows")
    }
    return {
        "per_s": round(sum(done) / wall, 1),
        "errors": sum(errors),
        "mean_batch": round(timed["rows"] / max(timed["steps"], 1), 2),
        "wall_s": round(wall, 2),
        "forwards_per_suggestion": round(timed["steps"] / max(sum(done), 1), 2),
        **timed,
    }


def step_costs(root: Path, threads: int, past: int = 200) -> dict:
    """One forward step's cost for ``rows`` x ``tokens`` new ids over ``past`` cached
    positions each (ONNX Runtime int8 and fp32): what batching and drafts can gain here.

    ``batching_ceiling_16`` is sixteen one-token steps of one row over one step of sixteen
    rows: the most continuous batching can gain at 16 clients over one request at a time
    when neither drafts (every row reads its own cached keys and values, shared by no one)
    nor any per-request work (sockets, JSON, prompts) is counted.
    """
    import numpy as np

    from delta_core.inference.backends import OnnxBackend
    from delta_core.inference.export import ensure_onnx
    from delta_core.learn.deploy import active_version
    from delta_core.paths import Layout

    mdir = root / "models" / active_version(Layout(root))
    out = {}
    for name, quantized in (("int8", True), ("fp32", False)):
        be = OnnxBackend(ensure_onnx(mdir, quantized=quantized), threads=threads)
        s = be.shape
        P = min(past, s.block_size - 17)
        grid = {}
        for B, T in ((1, 1), (1, 4), (1, 16), (4, 1), (16, 1), (16, 4), (64, 1)):
            kv = np.random.default_rng(0).standard_normal(
                (s.n_layer, 2, B, s.n_head, P, s.head_dim), np.float32
            )
            ids = np.zeros((B, T), np.int64)
            pos = np.broadcast_to(P + np.arange(T), (B, T)).copy()
            mask = np.ones((B, T, P + T), bool)
            for _ in range(3):
                be.step(ids, pos, mask, kv)
            n = max(5, 60 // B)
            t = time.perf_counter()
            for _ in range(n):
                be.step(ids, pos, mask, kv)
            ms = (time.perf_counter() - t) / n * 1000
            grid[f"{B}x{T}"] = {"step_ms": round(ms, 3), "per_id_ms": round(ms / (B * T), 3)}
        out[name] = {
            "past": P,
            "steps": grid,
            "batching_ceiling_16": round(16 * grid["1x1"]["step_ms"] / grid["16x1"]["step_ms"], 2),
        }
    return out


def main() -> None:
    from delta_core.config import SETTINGS

    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--commands", type=int, default=24)
    ap.add_argument("--nocache", type=int, default=24, help="requests for the no-KV-cache variant")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--per-client", type=int, default=8)
    ap.add_argument("--workdir", default="/tmp/delta-bench-serve")
    ap.add_argument("--only-throughput", action="store_true")
    ap.add_argument("--only-e2e", action="store_true")
    ap.add_argument("--only-step-cost", action="store_true")
    ap.add_argument(
        "--backend",
        default=SETTINGS["serve.backend"].default,
        help="the server's backend: onnx-int8 (the default of delta serve), onnx, torch",
    )
    ap.add_argument(
        "--no-spec-throughput", action="store_true", help="also both modes without speculation"
    )
    args = ap.parse_args()
    load = os.getloadavg()[0]
    BACKEND[0] = args.backend
    root, test = build(Path(args.workdir), args.steps)
    keys = keystrokes(test, args.commands)
    report: dict = {
        "server_backend": args.backend,
        "cpu_load_1min_at_start": round(load, 1),
        "cores": os.cpu_count(),
        "threads": args.threads,
    }
    if not args.only_e2e:
        report["step_cost"] = step_costs(root, args.threads)
        if args.only_step_cost:
            print(json.dumps(report))
            return
    if not args.only_throughput:
        if not args.only_e2e:
            report["in_process"] = in_process(root, keys, args.threads, args.nocache)
        typed = keystrokes({u: r for u, r in list(test.items())[:2]}, 4, every=True)
        report.update(e2e(root, typed, args.threads))
        if args.only_e2e:
            print(json.dumps(report))
            return
    streams = [[k for k in keys if k[0] == u] for u in test]
    tp = {}
    for n in [int(x) for x in args.clients.split(",")]:
        per = args.per_client
        b = throughput(root, streams, n, per, True, args.threads)
        s = throughput(root, streams, n, per, False, args.threads)
        tp[n] = {
            "batching_per_s": b["per_s"],
            "sequential_per_s": s["per_s"],
            "speedup": round(b["per_s"] / s["per_s"], 2),
            "mean_batch": b["mean_batch"],
            "errors": b["errors"] + s["errors"],
            "profile_batching": {k: v for k, v in b.items() if k.endswith(("_s", "_steps"))},
            "profile_sequential": {k: v for k, v in s.items() if k.endswith(("_s", "_steps"))},
        }
        if args.no_spec_throughput:
            b = throughput(root, streams, n, per, True, args.threads, spec=False)
            s = throughput(root, streams, n, per, False, args.threads, spec=False)
            tp[n]["no_spec_batching_per_s"] = b["per_s"]
            tp[n]["no_spec_sequential_per_s"] = s["per_s"]
            tp[n]["no_spec_speedup"] = round(b["per_s"] / s["per_s"], 2)
            tp[n]["spec_batching_vs_no_spec_sequential"] = round(
                tp[n]["batching_per_s"] / s["per_s"], 2
            )
    report["throughput"] = tp
    if "in_process" in report:
        report["speculative_speedup"] = report["in_process"]["onnx+kv+spec"]["speedup_mean"]
        report["speculative_speedup_int8"] = report["in_process"]["int8+kv+spec"]["speedup_mean"]
    report["batching_speedup_16"] = tp.get(16, {}).get("speedup")
    if "step_cost" in report:
        grid = report["step_cost"].get(BACKEND_COST.get(args.backend, ""))  # none for torch
        report["batching_ceiling_16"] = grid["batching_ceiling_16"] if grid else None
    report["batching_speedup_16_no_spec"] = tp.get(16, {}).get("no_spec_speedup")
    report["cpu_load_1min_at_end"] = round(os.getloadavg()[0], 1)
    if args.json or args.only_throughput:
        print(json.dumps(report))
        return
    from rich.console import Console
    from rich.table import Table

    print(json.dumps(report), file=sys.stderr)  # everything, profiles included
    con = Console()
    t = Table(title=f"per suggestion, in process ({args.threads} thread(s), load {load:.1f})")
    for col in (
        "variant",
        "p50 ms",
        "p95 ms",
        "mean ms",
        "forwards",
        "replayed ids",
        "acceptance",
        "same as plain",
        "n",
    ):
        t.add_column(col)
    for name, r in report["in_process"].items():
        t.add_row(
            name,
            str(r["p50_ms"]),
            str(r["p95_ms"]),
            str(r["mean_ms"]),
            str(r.get("forwards_per_suggestion", "-")),
            str(r.get("replayed_per_suggestion", "-")),
            str(r.get("draft_acceptance", "-")),
            str(r.get("identical_to_plain", "-")),
            str(r["n"]),
        )
    con.print(t)
    con.print(
        f"end to end through delta serve ({args.backend}): p50 {report['e2e_p50_ms']} ms, p95 {report['e2e_p95_ms']} ms "
        f"({report['e2e_n']} keystrokes)"
    )
    t = Table(title=f"server throughput (suggestions/s), {args.backend}")
    for col in (
        "clients",
        "batching",
        "one at a time",
        "speedup",
        "mean batch",
        "no spec: batching / one / speedup",
    ):
        t.add_column(col)
    for n, r in tp.items():
        t.add_row(
            str(n),
            str(r["batching_per_s"]),
            str(r["sequential_per_s"]),
            str(r["speedup"]),
            str(r["mean_batch"]),
            f"{r['no_spec_batching_per_s']} / {r['no_spec_sequential_per_s']} / "
            f"{r['no_spec_speedup']}"
            if "no_spec_speedup" in r
            else "-",
        )
    con.print(t)
    t = Table(title=f"one forward step, ms (rows x new ids, {args.threads} thread(s))")
    t.add_column("model")
    grid = report["step_cost"]["int8"]["steps"]
    for cell in grid:
        t.add_column(cell)
    t.add_column("16 x (1x1) / (16x1)")
    for name, r in report["step_cost"].items():
        t.add_row(
            f"{name}, {r['past']} cached",
            *(str(v["step_ms"]) for v in r["steps"].values()),
            f"{r['batching_ceiling_16']}x",
        )
    con.print(t)
    keys = ("e2e_p50_ms", "e2e_p95_ms", "speculative_speedup", "batching_speedup_16")
    con.print(json.dumps({k: report.get(k) for k in (*keys, "batching_ceiling_16")}))


if __name__ == "__main__":
    main()
