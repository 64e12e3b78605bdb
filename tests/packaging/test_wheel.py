"""Delta as a user gets it: the sdist and the wheel built, the wheel installed in a fresh
virtualenv, every module imported from there, and the README's main job run with it.

The virtualenv sees this interpreter's site-packages (torch, onnxruntime … are not installed
again), but Delta itself comes only from the wheel: the commands run from a temporary
directory, with this checkout off ``sys.path``, and the test checks where every module was
loaded from. The wheel is built from the sdist, as ``python -m build`` does, so a file the
sdist leaves out is missing from the wheel too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SOURCE_DIRS = {"delta_core": "delta_core", "plugins": "delta_plugins", "xontrib_delta": None}
# What a clean clone holds; build outputs and caches of this checkout stay out of the copy.
_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
    ".hypothesis", ".delta-demo", "*.pyc", ".venv", "out",
)  # fmt: skip


def _tracked_copy(dest: Path) -> Path:
    """The files of a clone: ``git ls-files`` when this is a git checkout, else the tree."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(REPO, dest, ignore=_IGNORE)
        return dest
    for raw in filter(None, listed):
        rel = raw.decode()
        src = REPO / rel
        if not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return dest


def main_job_commands(readme: str) -> tuple[dict[str, str], list[str]]:
    """The README's main job: its environment and the commands after the two pip installs."""
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert blocks, "README.md has no ```sh block"
    env: dict[str, str] = {}
    commands = []
    for part in blocks[0].split(" && "):
        part = part.strip()
        if part.startswith("pip install"):
            continue
        if part.startswith("export "):
            key, _, value = part.removeprefix("export ").partition("=")
            env[key] = value
            continue
        commands.append(part)
    return env, commands


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel built from this checkout's files (the wheel from the sdist)."""
    work = tmp_path_factory.mktemp("dist")
    src = _tracked_copy(work / "src")
    out = work / "out"
    run = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"src": src, "sdist": sdist, "wheel": wheel, "work": work}


@pytest.fixture(scope="module")
def venv(built) -> Path:
    """A fresh virtualenv with the wheel and its extras installed (no index: deps are here)."""
    env_dir = built["work"] / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
        check=True,
        timeout=120,
    )
    py = env_dir / "bin" / "python"
    wheel = built["wheel"]
    run = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-index", "--no-cache-dir",
         "--disable-pip-version-check", f"{wheel}[xonsh,train,serve,search]"],
        capture_output=True, text=True, timeout=600, check=False, cwd=built["work"],
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return env_dir


def _env(venv: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTA_")}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["DELTA_HOME"] = str(home)
    return env


def _module_names(src: Path) -> list[str]:
    names = []
    for folder, package in SOURCE_DIRS.items():
        package = package or folder
        for path in sorted((src / folder).rglob("*.py")):
            rel = path.relative_to(src / folder).with_suffix("")
            parts = [package, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def test_the_sdist_holds_the_sources_the_docker_trainer_builds_from(built):
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for rel in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "training/Dockerfile",
                "training/entrypoint.sh", "training/train.py", "examples/sample_history.jsonl",
                "delta_core/serve/server.py", "plugins/trainer_docker.py", "xontrib/delta.py"):  # fmt: skip
        assert rel in names, f"{rel} is not in the sdist"
    assert not any(n.endswith((".pyc", ".pem")) or "__pycache__" in n for n in names)
    from delta_plugins.docker_image import source_root

    with tarfile.open(built["sdist"]) as tar:
        tar.extractall(built["work"] / "unpacked", filter="data")
    (unpacked,) = (built["work"] / "unpacked").iterdir()
    assert source_root(unpacked) == unpacked.resolve()


def test_the_wheel_holds_every_module_of_the_source_tree(built):
    with zipfile.ZipFile(built["wheel"]) as whl:
        files = set(whl.namelist())
    for name in _module_names(built["src"]):
        path = name.replace(".", "/")
        assert f"{path}.py" in files or f"{path}/__init__.py" in files, f"{name} not in wheel"
    assert "xontrib/delta.py" in files
    meta = next(f for f in files if f.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(built["wheel"]) as whl:
        entry_points = whl.read(meta).decode()
    assert "delta = delta_core.cli:main" in entry_points


def test_every_module_imports_from_the_installed_wheel(built, venv, tmp_path):
    names = [*_module_names(built["src"]), "xontrib.delta"]
    script = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        "where = {}\n"
        "for name in names:\n"
        "    where[name] = importlib.import_module(name).__file__\n"
        "print(json.dumps({'path': sys.path, 'where': where}))\n"
    )
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        env=_env(venv, tmp_path / "home"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.splitlines()[-1])
    assert not any(str(REPO) in p for p in got["path"] if p), got["path"]
    site = str(venv / "lib")
    wrong = {n: f for n, f in got["where"].items() if not str(f).startswith(site)}
    assert not wrong, f"loaded from outside the wheel's install: {wrong}"
    assert len(got["where"]) == len(names) > 100


def test_the_docker_trainer_of_a_wheel_builds_from_the_unpacked_sdist(built, venv, tmp_path):
    """An installed wheel has no training/ beside it: the trainer says to pass --context,
    and with the unpacked sdist as the context it finds its Dockerfile there."""
    with tarfile.open(built["sdist"]) as tar:
        tar.extractall(tmp_path / "sdist", filter="data")
    (unpacked,) = (tmp_path / "sdist").iterdir()
    script = (
        "from delta_plugins.trainer_docker import DockerTrainer\n"
        "ok, why = DockerTrainer().available()\n"
        "print(why)\n"
    )
    env = _env(venv, tmp_path / "home")
    py = str(venv / "bin" / "python")
    bare = subprocess.run([py, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300, check=True)  # fmt: skip
    assert "--context DIR" in bare.stdout and "--trainer local" in bare.stdout
    env["DELTA_TRAIN_DOCKER_CONTEXT"] = str(unpacked)
    given = subprocess.run([py, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                           env=env, timeout=300, check=True)  # fmt: skip
    assert "source tree" not in given.stdout, given.stdout
    cli = subprocess.run(
        [str(venv / "bin" / "delta-train"), "--context", str(tmp_path / "nowhere")],
        capture_output=True, text=True, cwd=tmp_path, env=_env(venv, tmp_path / "home"),
        timeout=300, check=False,
    )  # fmt: skip
    assert cli.returncode != 0 and "has no training/Dockerfile" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr


def test_the_readme_main_job_runs_from_the_installed_wheel(built, venv, tmp_path):
    """import, train, suggest (direct and through `delta serve`), then search."""
    env_vars, commands = main_job_commands(README.read_text(encoding="utf-8"))
    assert "DELTA_HOME" in env_vars
    work = tmp_path / "cwd"
    (work / "examples").mkdir(parents=True)
    shutil.copy2(built["src"] / "examples" / "sample_history.jsonl", work / "examples")
    env = _env(venv, work / ".delta-demo")

    def delta(argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
        exe = shutil.which(argv[0], path=str(venv / "bin"))
        assert exe and exe.startswith(str(venv)), f"{argv[0]} is not the wheel's script"
        return subprocess.run(
            [exe, *argv[1:]],
            capture_output=True, text=True, timeout=timeout, check=False, cwd=work, env=env,
        )  # fmt: skip

    seen = []
    for command in commands:
        argv = shlex.split(command)
        run = delta(argv)
        assert run.returncode == 0, f"{command}: {run.stdout[-2000:]}{run.stderr[-2000:]}"
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        seen.append(argv[0:2])
    assert ["delta", "memory"] in seen and ["delta-train", "--trainer"] in seen
    # the job ends by saying who made the suggestion and what the model alone would say
    assert "(history)" in run.stdout or "(the model)" in run.stdout, run.stdout
    assert "the model" in run.stdout and "no model is served" not in run.stdout, run.stdout
    # ... and by a completion the model made on a command held back from its training,
    # where history alone had nothing or something else
    learned = run.stdout.split("the model learned (a command held back from its training):")
    assert len(learned) == 2, run.stdout
    typed, alone = learned[1].strip().splitlines()[:2]
    shown, completed = typed.split(" -> ", 1)
    assert shown == "empty prompt" or completed.startswith(shown.strip("`"))
    assert alone.strip() != f"history alone: {completed}", run.stdout
    models = json.loads(delta(["delta", "model", "list", "--json"]).stdout)
    assert models, "the README's training registered no model"
    assert delta(["delta", "suggest", "git "]).stdout.strip()

    # its gate promoted the model: no --force needed (the sample history has structure a
    # model can learn; the gate needs it to beat every baseline)
    status = json.loads(delta(["delta", "model", "status", "--json"]).stdout)
    assert status["served"] and status["served"]["version"] == models[-1]["version"], status
    assert status["served"]["trained_on_commands"] > 2000
    started = delta(["delta", "serve", "--detach"], timeout=180)
    assert started.returncode == 0, started.stderr
    try:
        status = json.loads(delta(["delta", "serve", "status", "--json"]).stdout)
        assert status["running"] and status["model"]
        via = delta(["delta", "suggest", "git co", "-k", "3", "--json"])
        assert via.returncode == 0, via.stderr
    finally:
        assert delta(["delta", "serve", "stop"]).returncode == 0

    found = delta(["delta", "search", "git status", "--json"], timeout=900)
    assert found.returncode == 0, found.stderr[-2000:]
    assert "Traceback" not in found.stderr
    hits = json.loads(found.stdout)
    assert hits, "delta search found nothing in the imported sample history"
