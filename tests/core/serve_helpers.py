"""A promoted model in a Delta root, made in a second: a real sentencepiece tokenizer trained
on the sample history and a small seeded GPT, registered and promoted like a trained one.
Its weights are random unless ``train_steps`` is given (latency and protocol do not care)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from delta_core.paths import Layout

#: A shell's last three commands (command, cwd, exit), as a suggest request carries them.
HISTORY = [["git status", "/src", 0], ["make test", "/src", 2], ["git diff", "/src", 0]]


def server_env(root: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a server on ``root``: no other ``DELTA_*`` setting and
    no ``XDG_RUNTIME_DIR`` (the socket lives under the root), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTA_")}
    env.pop("XDG_RUNTIME_DIR", None)
    return {**env, "DELTA_HOME": str(root), **extra}


SAMPLE = Path(__file__).parents[1] / "data" / "shell_commands_sample.txt"


def promoted_model(root: Path, work: Path, size: dict | None = None, seed: int = 0) -> str:
    import torch

    from delta_core.learn.deploy import promote
    from delta_core.learn.registry import register_model
    from delta_core.lm.config import GPTConfig
    from delta_core.lm.gpt import GPT
    from delta_core.plugin.manager import Components, make_plugin_manager
    from delta_core.tokenizer.versions import train_tokenizer

    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    texts = SAMPLE.read_text().splitlines()[:2000]
    info = train_tokenizer(texts, plugins["sentencepiece"], root=work / "tok", vocab_size=600)
    shape = size or {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 128}
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=600, **shape))
    from delta_core.suggest.completer import load_tokenizer_dir

    exit_id = load_tokenizer_dir(info.directory, plugins).special_ids["exit"]
    with torch.no_grad():  # an untrained model rarely ends a command; make it end some
        model.wte.weight[exit_id] *= 8
    run = work / "run"
    run.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), run / "model.pt")
    (run / "config.json").write_text(
        json.dumps(
            {"model": model.config.to_dict(), "train": {"model_size": "tiny"}, "dataset": {}}
        )
    )
    (run / "metrics.json").write_text(json.dumps({"params": model.num_params(), "steps": 0}))
    layout = Layout(root)
    reg = register_model(layout, run, trainer="test", tokenizer_dir=info.directory)
    promote(layout, reg.version)
    return reg.version
