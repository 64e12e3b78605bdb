"""The ``docker`` trainer against a real Docker engine: a real image, real containers.

The engine and the base image come from ``.ci/docker-setup.sh`` (dockerd, and a debootstrap
Debian with the CPU torch wheel imported as ``delta-base:bookworm``, since no public
registry is reachable). Without an engine these tests skip, except under CI (``CI=true``),
where a missing engine is a failure: CI must run them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from byte_dataset import write_dataset
from delta_plugins.docker_container import OWNER_LABEL, remove_orphans
from delta_plugins.docker_image import (
    IMAGE_REPOSITORY,
    INPUTS_LABEL,
    SOURCE_LABEL,
    ImageInputs,
    build_image,
    context_files,
    prune_images,
    source_root,
)
from delta_plugins.trainer_docker import (
    DockerTrainer,
    DockerTrainerError,
    connect,
    device_requests,
    engine_has_gpus,
)

from delta_core.config import SETTINGS
from delta_core.plugin.protocols import TrainJob

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("DELTA_TRAIN_DOCKER_BASE_IMAGE", "delta-base:bookworm")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Small and quick: a few optimizer steps of the `tiny` model on a few hundred commands.
QUICK = {"batch_size": 2, "block_size": 32, "eval_iters": 2}


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the Docker tests: .ci/docker-setup.sh starts it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def client():
    try:
        c = connect()
    except DockerTrainerError as exc:
        _unavailable(f"no Docker engine: {exc}; run .ci/docker-setup.sh as root")
    try:
        c.images.get(BASE_IMAGE)
    except Exception:
        _unavailable(f"base image {BASE_IMAGE} missing; run .ci/docker-setup.sh")
    yield c
    c.close()


@pytest.fixture(scope="module")
def image(client):
    """The training image for this source tree (built once for the module, then reused)."""
    from rich.console import Console

    inputs = DockerTrainer().image_inputs(client, BASE_IMAGE, Console(stderr=True))
    tag, _ = build_image(client, inputs, Console(stderr=True))
    return tag


@pytest.fixture
def docker_home(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_TRAIN_DOCKER_BASE_IMAGE", BASE_IMAGE)
    return delta_home


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ds") / "tokens", n_commands=600)


def ours(client, pid: int | None = None) -> list:
    """Containers the trainer started in process ``pid`` (default: this one), in any state.

    Filtering by owner keeps these tests blind to other runs on the same engine.
    """
    owner = f"{socket.gethostname()}:{pid or os.getpid()}"
    return client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})


@pytest.mark.docker
def test_trains_the_tiny_model_in_a_container_and_leaves_private_weights(
    client, image, dataset, docker_home, tmp_path, capfd
):
    out = tmp_path / "model"
    job = TrainJob(dataset, out, model_size="tiny", max_steps=3, gpus=0, options=QUICK)

    assert DockerTrainer().train(job) == out.resolve()

    import torch

    state = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    tensors = [v for v in _tensors(state)]
    assert tensors and all(torch.isfinite(t).all() for t in tensors)
    assert json.loads((out / "metrics.json").read_text())
    for path in [out, *out.iterdir()]:
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), path
        assert st.st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert not ours(client), "the container outlived its run"
    err = capfd.readouterr().err
    assert "validation loss" in err and "3/3" in err
    assert sorted(p.name for p in dataset.iterdir()) == ["meta.json", "train.bin", "val.bin"]


def _tensors(state):
    import torch

    if isinstance(state, torch.Tensor):
        yield state
    elif isinstance(state, dict):
        for v in state.values():
            yield from _tensors(v)


@pytest.mark.docker
def test_the_same_inputs_reuse_the_image_and_it_carries_their_hash(client, image):
    from rich.console import Console

    console = Console(stderr=True)
    inputs = DockerTrainer().image_inputs(client, BASE_IMAGE, console)
    tag, _ = build_image(client, inputs, console)  # others may edit the tree meanwhile
    assert build_image(client, inputs, console) == (tag, False)
    assert client.images.get(tag).labels[INPUTS_LABEL] == inputs.digest
    assert tag == f"delta-train:{inputs.digest[:16]}"


@pytest.mark.docker
def test_a_failing_run_says_why_in_one_line_and_leaves_no_container(
    client, image, docker_home, tmp_path
):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.json").write_text('{"format": "something-else"}')
    job = TrainJob(bad, tmp_path / "out", model_size="tiny", max_steps=2, gpus=0)

    with pytest.raises(DockerTrainerError) as err:
        DockerTrainer().train(job)

    message = str(err.value)
    assert "\n" not in message and "exited with status 2" in message
    assert "train.py:" in message  # the entry point's own one-line reason
    assert not ours(client)


RUNNER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if CI ignores it
from pathlib import Path
from delta_core.plugin.protocols import TrainJob
from delta_plugins.trainer_docker import DockerTrainer, DockerTrainerError
job = TrainJob(Path(sys.argv[1]), Path(sys.argv[2]), model_size="tiny", max_steps=100000,
               gpus=0, options={"batch_size": 2, "block_size": 32, "eval_interval": 100000})
try:
    DockerTrainer().train(job)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _start_long_run(client, dataset: Path, out: Path):
    """A trainer in a child process, and its running container once it is up."""
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(dataset), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    label = f"{OWNER_LABEL}={socket.gethostname()}:{proc.pid}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        running = client.containers.list(filters={"label": label, "status": "running"})
        if running:
            return proc, running[0]
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"no training container came up: {proc.communicate()[1].decode()[-500:]}")


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_removes_its_container(
    client, image, dataset, docker_home, tmp_path, sig
):
    proc, container = _start_long_run(client, dataset, tmp_path / "out")
    attrs = container.attrs
    assert attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
    assert mounts == {"/data": False, "/out": True}
    assert attrs["HostConfig"]["NetworkMode"] == "none"

    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 130  # the trainer saw the interrupt, cleaned up, re-raised

    assert not ours(client, proc.pid), "an interrupted run left its container behind"


@pytest.mark.docker
def test_a_container_left_by_a_killed_run_is_removed_by_the_next(
    client, image, dataset, docker_home, tmp_path
):
    proc, container = _start_long_run(client, dataset, tmp_path / "out")
    proc.kill()  # SIGKILL: no chance to clean up, the fault this sweep exists for
    proc.wait(timeout=30)
    assert container.id in [c.id for c in ours(client, proc.pid)]

    assert container.name in remove_orphans(client)
    assert not ours(client, proc.pid)


@pytest.mark.docker
def test_delta_train_with_the_docker_trainer_registers_a_model(
    client, image, dataset, train_env, delta_home
):
    env = {**train_env, "DELTA_TRAIN_DOCKER_BASE_IMAGE": BASE_IMAGE}
    proc = subprocess.Popen(
        ["delta-train", "--trainer", "docker", "--model-size", "tiny", "--max-steps", "3",
         "--gpus", "0", "--dataset", str(dataset), "--set", "batch_size=2",
         "--set", "block_size=32", "--set", "eval_iters=2", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    info = json.loads(out)
    assert info["trainer"] == "docker" and info["model_size"] == "tiny" and info["steps"] == 3

    listed = subprocess.run(
        ["delta", "model", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert [m["version"] for m in json.loads(listed.stdout)] == [info["version"]]
    assert (Path(info["path"]) / "model.pt").stat().st_mode & 0o777 == 0o600
    assert not ours(client, proc.pid)


@pytest.mark.docker
def test_a_base_image_that_cannot_be_had_is_one_line_naming_the_setting(
    client, dataset, docker_home, tmp_path
):
    job = TrainJob(
        dataset, tmp_path / "out", model_size="tiny", options={"docker_base_image": "delta-no:0"}
    )
    with pytest.raises(DockerTrainerError) as err:
        DockerTrainer().train(job)
    message = str(err.value)
    assert "\n" not in message and "delta-no:0" in message
    assert "DELTA_TRAIN_DOCKER_BASE_IMAGE" in message


@pytest.mark.docker
def test_gpu_requests_follow_the_gpus_asked_for(client):
    assert device_requests(client, 0) == ([], "cpu")
    (request,), device = device_requests(client, 2)
    assert (request["Count"], request["Capabilities"], device) == (2, [["gpu"]], "cuda")
    requests, device = device_requests(client, None)  # all GPUs, when the engine has any
    if engine_has_gpus(client):
        assert requests[0]["Count"] == -1 and device == "cuda"
    else:
        assert (requests, device) == ([], "cpu")
    with pytest.raises(DockerTrainerError, match="--gpus"):
        device_requests(client, -1)


@pytest.mark.docker
@pytest.mark.ci_may_skip("an engine with GPUs cannot refuse a GPU")
def test_asking_for_a_gpu_the_engine_cannot_give_is_one_line_and_leaves_no_container(
    client, image, dataset, docker_home, tmp_path
):
    if engine_has_gpus(client):
        pytest.skip("this engine has GPUs: the refusal cannot happen here")
    job = TrainJob(dataset, tmp_path / "out", model_size="tiny", max_steps=1, gpus=1)
    with pytest.raises(DockerTrainerError) as err:
        DockerTrainer().train(job)
    message = str(err.value)
    assert "\n" not in message and "cannot give containers GPUs" in message
    assert "--gpus 0" in message and "--trainer local" in message
    assert not ours(client)


@pytest.mark.docker
def test_old_images_of_a_checkout_are_pruned_and_others_kept(client):
    source = f"test-{os.getpid()}-{time.monotonic_ns()}"
    made = []
    try:
        for i in range(4):  # cheap distinct images: commits of a container never started
            c = client.containers.create(BASE_IMAGE, command=["true"])
            tag = f"prune-{source}-{i}"
            c.commit(
                repository=IMAGE_REPOSITORY, tag=tag, changes=[f"LABEL {SOURCE_LABEL}={source}"]
            )
            c.remove()
            made.append(f"{IMAGE_REPOSITORY}:{tag}")

        removed = prune_images(client, source, keep=2)

        assert sorted(removed) == made[:2]
        left = [t for img in client.images.list(name=IMAGE_REPOSITORY) for t in img.tags]
        assert set(made[2:]) <= set(left) and not set(made[:2]) & set(left)
    finally:
        for tag in made:
            with contextlib.suppress(Exception):
                client.images.remove(tag)


def test_no_engine_is_reported_in_one_line_with_the_local_trainer_offered(
    docker_home, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-engine.sock")
    ok, why = DockerTrainer().available()
    assert not ok
    assert "\n" not in why and "no Docker engine answers" in why and "--trainer local" in why
    dataset = write_dataset(tmp_path / "ds", n_commands=50)
    with pytest.raises(DockerTrainerError, match="--trainer local"):
        DockerTrainer().train(TrainJob(dataset, tmp_path / "out", model_size="tiny"))


def test_the_image_tag_follows_the_sources_and_the_base(tmp_path):
    root = source_root()
    assert root == REPO
    copy = tmp_path / "tree"
    files = context_files(root)
    for rel in files:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, copy / rel)
    here = ImageInputs.read(copy, BASE_IMAGE, "sha256:1")
    assert ImageInputs.read(copy, BASE_IMAGE, "sha256:1").tag == here.tag
    assert "training/Dockerfile" in here.files and "delta_core/lm/gpt.py" in here.files
    assert "training/entrypoint.sh" in here.files and "pyproject.toml" in here.files
    assert not any("__pycache__" in f or f.endswith((".pyc", ".pem")) for f in here.files)

    moved = tmp_path / "elsewhere"
    shutil.copytree(copy, moved)
    assert ImageInputs.read(moved, BASE_IMAGE, "sha256:1").tag == here.tag

    (copy / "delta_core" / "model.py").write_text("# changed\n", encoding="utf-8")
    assert ImageInputs.read(copy, BASE_IMAGE, "sha256:1").tag != here.tag
    assert ImageInputs.read(moved, BASE_IMAGE, "sha256:2").tag != here.tag
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with_ca = ImageInputs.read(moved, BASE_IMAGE, "sha256:1", ca)
    assert with_ca.tag != here.tag and "training/certs/ca-bundle.pem" in with_ca.files


def test_dockerfile_default_base_matches_the_setting_and_compose_asks_for_all_gpus():
    dockerfile = (REPO / "training" / "Dockerfile").read_text()
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M)[1]
    assert default == SETTINGS["train.docker_base_image"].default
    import yaml

    compose = yaml.safe_load((REPO / "training" / "docker-compose.yml").read_text())
    service = compose["services"]["train"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    volumes = {v["target"]: v for v in service["volumes"]}
    assert volumes["/data"]["read_only"] is True and "/out" in volumes
    assert service["shm_size"]
    assert (
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["delta"][
            "trainer_docker"
        ]
        == "delta_plugins.trainer_docker"
    )
