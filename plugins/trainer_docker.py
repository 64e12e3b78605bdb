"""The ``docker`` trainer (the default): the training loop in a container, on every GPU.

It builds ``training/Dockerfile`` into an image tagged by a hash of its inputs (or reuses
that image), then runs ``train.py`` in a container through the Docker SDK: the dataset
mounted read-only, the output directory writable, as the host user, with a GPU device
request for all GPUs (or ``TrainJob.gpus`` of them) when the engine has GPUs. Logs stream
back as a progress bar. The container is removed however the run ends.

Settings: ``train.docker_base_image`` (``DELTA_TRAIN_DOCKER_BASE_IMAGE``) names the base
image; it must carry Python >= 3.11 and torch. ``train.docker_context``
(``DELTA_TRAIN_DOCKER_CONTEXT``, ``delta-train --context DIR``) names the source tree the image
is built from (a clone or the unpacked sdist); an editable install needs none. ``TrainJob.options`` are ``train.py`` options
(``{"batch_size": 8, "seed": 1}``) plus this trainer's own ``docker_base_image`` (overrides
the setting) and ``docker_shm_size`` (default ``8g``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delta_core.api import TrainJob, hookimpl

if TYPE_CHECKING:
    from delta_plugins.docker_image import ImageInputs

# The image, container and Docker SDK modules load only when the trainer is used: the shell
# loads every plugin at start-up and must stay fast.

LOCAL_HINT = "or train on this machine with --trainer local"


def _context_setting() -> str:
    from delta_core.api import Config

    return str(Config.load()["train.docker_context"])


def missing_source_message(context: str) -> str:
    """Why there is no source tree to build the image from, and what to do, in one line."""
    if context:
        return (
            f"the docker trainer builds its image from Delta's source tree, and {context} "
            f"(train.docker_context) has no training/Dockerfile and pyproject.toml; {LOCAL_HINT}"
        )
    return (
        "the docker trainer builds its image from Delta's source tree, which an installed "
        "wheel does not hold: unpack Delta's sdist (or clone it) and pass --context DIR; "
        f"{LOCAL_HINT}"
    )


class DockerTrainerError(RuntimeError):
    """The docker trainer cannot do the job; the message is one line a user can act on."""


def _one_line(text: object, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: int = 10) -> Any:
    """A Docker SDK client that has answered a ping; raises DockerTrainerError otherwise."""
    try:
        import docker
    except ImportError:
        raise DockerTrainerError(
            "the docker trainer needs the Docker SDK (pip install 'xontrib-delta[train]'), "
            + LOCAL_HINT
        ) from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        reason = _one_line(exc, 100)
        raise DockerTrainerError(
            f"no Docker engine answers at {_engine_address()} ({reason}); start it, {LOCAL_HINT}"
        ) from None
    return client


def engine_has_gpus(client: Any) -> bool:
    """Whether containers on this engine can get NVIDIA GPUs.

    An ``nvidia`` runtime in the engine's info says so; for a local engine without one, GPUs
    that ``nvidia-smi`` lists on the host are trusted too (CDI setups register no runtime).
    """
    try:
        if "nvidia" in (client.info().get("Runtimes") or {}):
            return True
    except Exception:
        return False
    import shutil
    import subprocess

    local = _engine_address().startswith("unix://")
    if not local or shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def device_requests(client: Any, gpus: int | None) -> tuple[list[Any], str]:
    """GPU requests for ``gpus`` (None: all, when there are any; 0: none) and the device flag."""
    import docker.types

    if gpus is not None and gpus < 0:
        raise DockerTrainerError(f"--gpus must be 0 or more, got {gpus}")
    if gpus == 0 or (gpus is None and not engine_has_gpus(client)):
        return [], "cpu"
    count = -1 if gpus is None else gpus
    return [docker.types.DeviceRequest(count=count, capabilities=[["gpu"]])], "cuda"


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class DockerTrainer:
    """Runs ``training/train.py`` in a container built from ``training/Dockerfile``."""

    name = "docker"

    def available(self) -> tuple[bool, str]:
        from delta_plugins.docker_image import source_root

        context = _context_setting()
        if source_root(context) is None:
            return False, missing_source_message(context)
        try:
            connect()
        except DockerTrainerError as exc:
            return False, str(exc)
        return True, f"Docker engine at {_engine_address()}"

    def image_inputs(self, client: Any, base_image: str, console: Any) -> ImageInputs:
        """The inputs of the image for this source tree and base image."""
        from delta_plugins.docker_image import (
            ImageInputs,
            ensure_base_image,
            find_ca_bundle,
            source_root,
        )

        context = _context_setting()
        root = source_root(context)
        if root is None:
            raise DockerTrainerError(missing_source_message(context))
        base_id = ensure_base_image(client, base_image, console)
        return ImageInputs.read(root, base_image, base_id, find_ca_bundle())

    def container_args(self, job: TrainJob, device: str) -> list[str]:
        """``train.py`` flags for ``job`` inside the container (paths are the mount points).

        ``job.options`` are ``train.py`` options as for every trainer, minus this trainer's
        own ``docker_*`` keys; the logs are always JSON so the host can draw the progress.
        """
        from delta_plugins.docker_container import DATA_MOUNT, OUT_MOUNT

        from delta_core.api import train_argv

        options = {k: v for k, v in job.options.items() if not k.startswith("docker_")}
        options.setdefault("device", device)
        options.update(log_format="json", progress="off")
        inner = replace(job, options=options)
        return train_argv(inner, dataset=DATA_MOUNT, out=OUT_MOUNT)

    def train(self, job: TrainJob) -> Path:
        from delta_plugins.docker_container import ContainerError, RunSpec, run_container
        from delta_plugins.docker_image import ImageError, build_image

        from delta_core.api import Config, private_dir

        console = _console()
        dataset = Path(job.dataset_dir).expanduser().resolve()
        if not (dataset / "meta.json").is_file():
            raise DockerTrainerError(f"{dataset} is not a dataset (no meta.json)")
        out = private_dir(Path(job.out_dir).expanduser().resolve())
        base_image = (
            job.options.get("docker_base_image") or Config.load()["train.docker_base_image"]
        )
        client = connect(timeout=600)
        try:
            inputs = self.image_inputs(client, base_image, console)
            tag, built = build_image(client, inputs, console)
            if not built:
                console.print(f"[bold]docker[/]: reusing image {tag}")
            requests, device = device_requests(client, job.gpus)
            args = self.container_args(job, device)
            spec = RunSpec(
                image=tag,
                dataset=dataset,
                out=out,
                args=args,
                device_requests=requests,
                shm_size=str(job.options.get("docker_shm_size", "8g")),
                environment={"DELTA_TRAIN_SCRIPT": "train.py"} if job.gpus in (0, 1) else {},
            )
            run_container(client, spec, console, job.max_steps)
        except (ImageError, ContainerError, ValueError) as exc:
            raise DockerTrainerError(str(exc)) from None
        finally:
            client.close()
        return out


@hookimpl
def delta_register_trainers(register):
    register(DockerTrainer())
