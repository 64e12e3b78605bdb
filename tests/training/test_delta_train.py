"""``delta-train --trainer local`` trains on the host and registers a model that loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

torch = pytest.importorskip("torch")

FAST_SETS = ["--set", "batch_size=4", "--set", "block_size=32", "--set", "eval_iters=4"]
# the evaluation gate after training has its own tests (promotion); here it would only add time
NO_GATE = ["--no-promote"]


def _bash_history(path, n=600):
    """NL2Bash commands (../shared/data/nl2bash) as a timestamped bash history, 20 per session."""
    from byte_dataset import commands

    lines, t = [], 1_700_000_000
    for i, command in enumerate(commands(n)):
        t += 30 if i % 20 else 4000
        lines += [f"#{t}", command]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _delta_train(env, *args):
    return subprocess.run(["delta-train", *args], env=env, capture_output=True, text=True)


def test_delta_train_local_registers_a_loadable_model(token_dataset, train_env, delta_home):
    res = _delta_train(
        train_env,
        "--trainer", "local", "--model-size", "tiny", "--max-steps", "20", "--device", "cpu",
        "--dataset", str(token_dataset), *FAST_SETS, *NO_GATE, "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads(res.stdout)
    assert info["trainer"] == "local" and info["model_size"] == "tiny" and info["steps"] == 20
    assert info["val_loss"] < info["initial_val_loss"]

    listed = subprocess.run(
        ["delta", "model", "list", "--json"], env=train_env, capture_output=True, text=True
    )
    assert [m["version"] for m in json.loads(listed.stdout)] == [info["version"]]

    from delta_core.lm.checkpoint import load_model

    model = load_model(info["path"])
    assert model.config.vocab_size == 259 and model.config.block_size == 32
    dataset = json.loads((delta_home / "models" / info["version"] / "dataset.json").read_text())
    assert dataset["tokenizer_version"] == "bytes-test"
    assert list((delta_home / "models" / ".runs").iterdir()) == []  # registered: run removed


def test_delta_train_from_the_memory(tmp_path, train_env, delta_home):
    """No --dataset: the history is extracted, a tokenizer trained, a dataset built, then train."""
    env = {**train_env, "DELTA_TOKENIZER_VOCAB_SIZE": "512"}
    imported = subprocess.run(
        ["delta", "memory", "import", "--from", "bash", str(_bash_history(tmp_path / "h"))],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    res = _delta_train(
        env, "--trainer", "local", "--model-size", "tiny", "--max-steps", "10",
        "--device", "cpu", *FAST_SETS, *NO_GATE, "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "trained tokenizer sentencepiece-" in res.stderr
    info = json.loads(res.stdout)
    assert info["tokenizer_version"].startswith("sentencepiece-")
    model_dir = delta_home / "models" / info["version"]
    tok_config = json.loads((model_dir / "tokenizer" / "tokenizer_config.json").read_text())
    assert tok_config["version"] == info["tokenizer_version"]
    dataset = json.loads((model_dir / "dataset.json").read_text())
    assert dataset["extraction"]["kept"] > 500 and dataset["vocab_size"] == info["vocab_size"]

    # a second run reuses the active tokenizer: its models stay comparable
    again = _delta_train(env, "--trainer", "local", "--model-size", "tiny", "--max-steps", "2",
                         "--device", "cpu", *FAST_SETS, *NO_GATE, "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"using tokenizer {info['tokenizer_version']}" in again.stderr
    assert json.loads(again.stdout)["tokenizer_version"] == info["tokenizer_version"]


def test_unknown_or_unavailable_trainer_is_one_line(token_dataset, train_env, delta_home):
    res = _delta_train(train_env, "--trainer", "slurm", "--dataset", str(token_dataset))
    assert res.returncode == 1
    assert (
        res.stderr.strip().splitlines() == [res.stderr.strip()]
        and "no trainer named 'slurm'; available:" in res.stderr
    )

    # the default trainer is docker; with no engine answering, delta-train offers the local one
    env = {**train_env, "DOCKER_HOST": f"unix://{delta_home}/no-docker.sock"}
    res = _delta_train(env, "--dataset", str(token_dataset))
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "the docker trainer cannot run" in res.stderr and "--trainer local" in res.stderr
    assert not (delta_home / "models").exists() or not any((delta_home / "models").iterdir())


def test_ctrl_c_keeps_the_run_and_resume_finishes_it(token_dataset, train_env, delta_home):
    runs = delta_home / "models" / ".runs"
    proc = subprocess.Popen(
        ["delta-train", "--trainer", "local", "--model-size", "tiny", "--max-steps", "150",
         "--device", "cpu", "--dataset", str(token_dataset), *FAST_SETS, *NO_GATE,
         "--set", "eval_interval=5", "--set", "patience=0"],
        env=train_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # Ctrl-C as a terminal delivers it: a runner that started the tests in the background
        # (`nohup … &`) leaves SIGINT ignored, and an ignored signal is inherited
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(runs.glob("*/checkpoint.pt")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches delta-train and the training process
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "rerun with --resume" in err, err[-2000:]
    (run,) = runs.iterdir()
    assert not list((delta_home / "models").glob("2*"))  # nothing registered

    res = _delta_train(train_env, "--trainer", "local", "--resume", "--json", *NO_GATE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"resuming {run.name}" in res.stderr and "resume step" in res.stderr
    info = json.loads(res.stdout)
    assert info["steps"] == 150 and not run.exists()

    none_left = _delta_train(train_env, "--trainer", "local", "--resume")
    assert none_left.returncode == 1 and "no interrupted run to resume" in none_left.stderr
